# Evaluates flake.nix's outputs against a STUB nixpkgs (nothing is built or
# fetched; derivations are attribute sets with made-up store paths), with only
# nixpkgs' lib, and summarises them as JSON for tests/nix_module/:
#
#   NIX_PATH=nixpkgs=/path/to/nixpkgs.lib \
#     nix-instantiate --eval --strict --json nix/tests/flake-outputs.nix
#
# It proves the flake's wiring (every output for every system, the package's
# arguments, the VM tests' definitions, the VM machine's configuration against
# the real module), not that anything builds: that needs Nix with nixpkgs.
{
  lib ? import <nixpkgs/lib>,
}:
let
  flake = import ../../flake.nix;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "x86_64-darwin"
    "aarch64-darwin"
  ];

  fakeDrv =
    name: attrs:
    attrs
    // {
      inherit name;
      type = "derivation";
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    };

  pkgsFor =
    system:
    let
      base = import ./stub-pkgs.nix { hostSystem = system; };
      pkgs =
        base
        // {
          inherit lib;
          callPackage =
            f: args:
            let
              fn = if builtins.isFunction f then f else import f;
            in
            fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // args);
          # As nixpkgs' runCommand: passthru attributes are on the result.
          runCommand =
            name: env: buildCommand:
            fakeDrv name (env // (env.passthru or { }) // { inherit buildCommand; });
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
    pkgs;

  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems pkgsFor;
    outPath = "/nix/store/00000000000000000000000000000000-nixpkgs";
  };
  self = flake.outputs { inherit self nixpkgs; };

  relative = p: lib.removePrefix (toString ../.. + "/") (toString p);

  # The VM machine's configuration, evaluated with the real module against the
  # NixOS stub plus the few options only the machine sets.
  vmMachine =
    check:
    let
      inherit (self.checks.x86_64-linux.${check}) test;
      inherit
        (lib.evalModules {
          modules = [
            ./nixos-stub.nix
            test.nodes.machine
            {
              options = {
                environment.etc = lib.mkOption { type = lib.types.attrsOf lib.types.anything; };
                users.mutableUsers = lib.mkOption { type = lib.types.bool; };
                specialisation = lib.mkOption { type = lib.types.attrsOf lib.types.anything; };
                system.stateVersion = lib.mkOption { type = lib.types.str; };
              };
            }
          ];
        })
        config
        ;
    in
    {
      inherit (test) name;
      subtests = builtins.length (lib.splitString "with subtest(" test.testScript) - 1;
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
      manifest = config.age.manifest;
      alicePasswordFile = config.users.users.alice.hashedPasswordFile;
    };
in
{
  systems = builtins.attrNames self.packages;
  packages = lib.mapAttrs (_: lib.mapAttrs (_: d: d.name)) self.packages;
  mainPrograms = lib.mapAttrs (_: lib.mapAttrs (_: d: d.meta.mainProgram)) self.packages;
  # agenix's documented `.override { ageBin = …; }` must still evaluate.
  ageBinOverride =
    ((pkgsFor "x86_64-linux").callPackage ../package.nix { ageBin = "/nix/store/x-rage/bin/rage"; })
    .name;
  package = {
    inherit (self.packages.x86_64-linux.default) pname postInstall;
    cargoLock = relative self.packages.x86_64-linux.default.cargoLock.lockFile;
    nativeCheckInputs = map (d: d.name) self.packages.x86_64-linux.default.nativeCheckInputs;
  };
  overlay = lib.mapAttrs (_: d: d.meta.mainProgram) (self.overlays.default (pkgsFor "x86_64-linux") { });
  modules = lib.mapAttrs (_: lib.mapAttrs (_: relative)) {
    inherit (self) nixosModules homeManagerModules darwinModules;
  };
  checks = lib.mapAttrs (_: builtins.attrNames) self.checks;
  vm = lib.genAttrs [
    "vm-activation-scripts"
    "vm-sysusers"
    "vm-userborn"
  ] vmMachine;
  closureCheck = self.checks.x86_64-linux.no-plaintext-in-closure.buildCommand;
  devShells = lib.mapAttrs (_: s: s.default.NIX_PATH) self.devShells;
  formatter = lib.mapAttrs (_: f: f.name) self.formatter;
}
