# Build check (no VM): nothing of the plaintexts, nor the password hash, is in
# the system closure. Only ciphertext and the manifest may be.
{
  pkgs,
  fixtures,
  secretsModule,
}:
let
  system = pkgs.nixos {
    imports = [ (import ./machine.nix { inherit fixtures secretsModule; }) ];
    boot.loader.grub.enable = false;
    # Outside the test framework nothing gives root a password, and with
    # immutable users NixOS refuses a system nobody can log in to.
    users.allowNoPasswordLogin = true;
    fileSystems."/".device = "/dev/disk/by-label/nixos";
  };
  closure = pkgs.closureInfo { rootPaths = [ system.config.system.build.toplevel ]; };
in
pkgs.runCommand "secrets-no-plaintext-in-closure" { } ''
  found=0
  while read -r path; do
    if grep -rlF -e PLAINTEXT-MARKER -e '${fixtures.aliceHash}' "$path"; then
      found=1
    fi
  done < ${closure}/store-paths
  if [ "$found" = 1 ]; then
    echo "plaintext found in the system closure (files listed above)" >&2
    exit 1
  fi
  # The ciphertext and the manifest must be there, or this proves nothing.
  grep -q 'secrets-vm-fixtures' ${closure}/store-paths
  grep -q 'agenix-manifest' ${closure}/store-paths
  touch $out
''
