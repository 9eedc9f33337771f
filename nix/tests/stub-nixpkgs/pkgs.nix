# TEST STUB: the fake nixpkgs package set flake.nix sees, for one system (nothing is built or
# fetched). Derivations are attribute sets with made-up but well-formed store paths (Nix's
# `flake check` parses drvPath), keeping what they were made from for the tests to read.
# `base` is stub-pkgs.nix (the modules' fake pkgs); this adds what the package and the
# flake's checks, shells and formatter call. Used by ../flake-outputs.nix and, as
# legacyPackages, by the stub nixpkgs flake of tests/nix_flake.rs (./flake.nix).
{
  lib,
  system,
  base,
}:
let
  fakeDrv =
    name: attrs:
    attrs
    // {
      inherit name system;
      type = "derivation";
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
      drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
    };
  pkgs =
    base
    // {
      inherit lib;
      # nixpkgs' own: `override` on the result, functionArgs-driven arguments.
      callPackage = lib.callPackageWith pkgs;
      # As nixpkgs' runCommand: passthru attributes are on the result.
      runCommand =
        name: env: buildCommand:
        fakeDrv name (env // (env.passthru or { }) // { inherit buildCommand; });
      runCommandLocal =
        name: env: buildCommand:
        fakeDrv name (
          env
          // (env.passthru or { })
          // {
            inherit buildCommand;
            preferLocalBuild = true;
            allowSubstitutes = false;
          }
        );
      rustPlatform.buildRustPackage = args: fakeDrv "${args.pname}-${args.version}" args;
      testers.runNixOSTest = test: fakeDrv "vm-test-${test.name}" { inherit test; };
      nixos = configuration: {
        inherit configuration;
        config.system.build.toplevel = fakeDrv "nixos-system" { };
      };
      closureInfo = args: fakeDrv "closure-info" args;
      mkShell = args: fakeDrv "shell" args;
      path = "/nix/store/00000000000000000000000000000000-nixpkgs";
    }
    // lib.genAttrs [
      "installShellFiles"
      "nix"
      "openssh"
      "cargo"
      "clippy"
      "rustfmt"
      "rust-analyzer"
      "nixfmt-rfc-style"
      "nixfmt-tree"
    ] (name: fakeDrv name { pname = name; });
in
pkgs
