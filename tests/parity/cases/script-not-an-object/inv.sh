#!/bin/sh
echo '["w1", "w2"]'
