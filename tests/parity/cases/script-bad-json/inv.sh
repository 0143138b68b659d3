#!/bin/sh
echo "kube_node: [w1]"
