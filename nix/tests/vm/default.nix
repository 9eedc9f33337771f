# Flake checks for Linux: VM tests (need KVM) and the closure check.
# The home-manager VM test lives in ../home-manager (its own flake, so that
# this flake keeps nixpkgs as its only input).
{
  pkgs,
  secretsModule,
}:
let
  fixtures = pkgs.callPackage ./fixtures.nix { };
  vmTest =
    usersBy:
    pkgs.testers.runNixOSTest (import ./secrets.nix { inherit fixtures secretsModule usersBy; });
in
{
  vm-activation-scripts = vmTest "scripts";
  vm-sysusers = vmTest "sysusers";
  vm-userborn = vmTest "userborn";
  no-plaintext-in-closure = import ./closure.nix { inherit pkgs fixtures secretsModule; };
}
