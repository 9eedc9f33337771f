# For configurations without flakes (niv, npins, channels, fetchTarball):
#
#   let secrets = import (fetchTarball "https://…/archive/<rev>.tar.gz") { };
#   in {
#     imports = [ secrets.nixosModules.default ];  # agenix: modules/age.nix
#     environment.systemPackages = [ secrets.agenix ];
#   }
#
# `pkgs` is read only for the packages: the module sets are plain files, so importing a
# module needs no nixpkgs here (the module builds its package with the configuration's own
# pkgs). The packages skip the test suite (nix/package.nix says why).
{
  pkgs ? import <nixpkgs> { },
}:
let
  build = args: pkgs.callPackage ./nix/package.nix args;
  # `age` and `default`, as agenix's flake names them.
  moduleSet = file: {
    age = file;
    default = file;
  };
  secrets = build { };
in
{
  inherit secrets;
  default = secrets;
  # What they start is the agenix or ragenix entry (meta.mainProgram); the same build.
  agenix = build { mainProgram = "agenix"; };
  ragenix = build { mainProgram = "ragenix"; };

  nixosModules = moduleSet ./nix/modules/nixos.nix;
  darwinModules = moduleSet ./nix/modules/darwin.nix;
  homeManagerModules = moduleSet ./nix/modules/home-manager.nix;
}
