#!/bin/sh
echo "cannot reach the cloud API" >&2
exit 3
