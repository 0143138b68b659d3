#!/usr/bin/env bash
# Remakes the vault cases of the parity corpus with the venv's ansible-vault
# (.ci/install-ansible.sh). The password is a TEST-ONLY password: it protects nothing.
set -euo pipefail
exec </dev/null
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(dirname "$(bash "$root/.ci/install-ansible.sh")")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '[defaults]\n' > "$tmp/ansible.cfg"
export PATH="$bin:$PATH" ANSIBLE_CONFIG="$tmp/ansible.cfg" ANSIBLE_HOME="$tmp/home" ANSIBLE_NOCOLOR=1
C="$here/cases"
PW='kubeforge-parity-TEST-ONLY-password-not-a-secret'

sk() {
  printf '%s\n' '    kube_control_plane:' '      hosts:' '        node1:' '    etcd:' '      hosts:' \
    '        node1:' '    kube_node:' '      hosts:' '        node2:'
}
enc() { # NAME VALUE [VAULT-ID-LABEL]; run in a directory holding vault-password.txt
  if [ -n "${3:-}" ]; then
    ansible-vault encrypt_string --vault-id "$3@vault-password.txt" --encrypt-vault-id "$3" --name "$1" "$2" 2>/dev/null
  else
    ansible-vault encrypt_string --vault-password-file vault-password.txt --name "$1" "$2" 2>/dev/null
  fi
}
casefile() { # DIR RULE
  cat > "$1/case.yml" <<EOT
# vault-password.txt in this directory is a TEST-ONLY password for the parity corpus
# (it protects nothing; the values it encrypts are made up).
rule: "$2"
expect: accept
templated: []
EOT
}
fresh() { rm -rf "$1"; mkdir -p "$1"; cd "$1"; printf '%s\n' "$PW" > vault-password.txt; }

fresh "$C/yaml-vault-1.1"; mkdir group_vars
{ echo "all:"; echo "  vars:"; enc db_password 's3cr3t-1.1' | sed 's/^/    /'
  enc vault_number '42' | sed 's/^/    /'; echo "  children:"; sk; } > hosts.yml
{ enc registry_token 'tok-from-group-vars'; echo 'uses_secret: "user:{{ registry_token }}"'; } > group_vars/kube_node.yml
casefile "$PWD" '!vault values (format 1.1, AES256) are decrypted with --vault-password-file / ANSIBLE_VAULT_PASSWORD_FILE; a decrypted value is a string; templates may use it'

fresh "$C/yaml-vault-1.2"
{ echo "all:"; echo "  vars:"; enc labelled_secret 's3cr3t-1.2' parity | sed 's/^/    /'; echo "  children:"; sk; } > hosts.yml
casefile "$PWD" '!vault values in format 1.2 (with a vault id label) are decrypted with the password file'

fresh "$C/yaml-vault-no-password"
{ echo "all:"; echo "  vars:"; enc api_secret 'never-shown' | sed 's/^/    /'; echo "    plain: visible"
  echo "  children:"; sk; } > hosts.yml
rm vault-password.txt
cat > case.yml <<'EOT'
rule: "!vault value without a password: Ansible still loads the inventory; kubeforge must show it masked, never the ciphertext as a value"
expect: accept
templated: []
EOT

fresh "$C/gv-vault-encrypted-file"; mkdir group_vars
printf '%s\n' '[kube_control_plane]' 'node1' '' '[etcd]' 'node1' '' '[kube_node]' 'node2' > hosts.ini
printf 'whole_file_secret: from-encrypted-file\nsecret_port: 2379\n' > group_vars/etcd.yml
ansible-vault encrypt --vault-password-file vault-password.txt group_vars/etcd.yml >/dev/null 2>&1
casefile "$PWD" 'a group_vars file encrypted whole with ansible-vault is decrypted with the password file (types inside kept)'
echo "vault cases written under $C"
