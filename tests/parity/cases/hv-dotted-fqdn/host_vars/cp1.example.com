fqdn_plain: true
v: plain
