# The same 40 steps as bench/steps.yml, hand-written for plain ssh (bash -s on the host).
# $1: the host's inventory name; $2: the root directory.
set -e
host=$1
root=$2
for i in 1 2 3 4 5 6 7 8 9 10; do
    d=$root/d$i
    [ -d "$d" ] || mkdir -p "$d"
    [ "$(stat -c %a "$d")" = 755 ] || chmod 755 "$d"
    want="host $host item $i"
    [ "$(cat "$d/host.txt" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" > "$d/host.txt"
    grep -qxF "line $i" "$d/lines.txt" 2>/dev/null || echo "line $i" >> "$d/lines.txt"
    [ -e "$d/marker" ] || touch "$d/marker"
done
