# TEST STUB, not nixpkgs: a nixpkgs flake whose `lib` is the real nixpkgs lib (copied next
# to this file as ./lib by tests/nix_flake.rs, with ../stub-pkgs.nix as ./stub-pkgs.nix) and
# whose legacyPackages is the fake package set of ./pkgs.nix, so that `nix flake check
# --no-build --override-input nixpkgs path:<this>` evaluates every output of the project's
# flake offline, with nothing built.
{
  description = "TEST STUB nixpkgs: the real lib, a fake package set";

  outputs =
    { self }:
    let
      lib = import ./lib;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ] (
        system:
        import ./pkgs.nix {
          inherit lib system;
          base = import ./stub-pkgs.nix { hostSystem = system; };
        }
      );
    };
}
