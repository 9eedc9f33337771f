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

  pkgsFor =
    system:
    import ./stub-nixpkgs/pkgs.nix {
      inherit lib system;
      base = import ./stub-pkgs.nix { hostSystem = system; };
    };

  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems pkgsFor;
    outPath = "/nix/store/00000000000000000000000000000000-nixpkgs";
  };
  self = flake.outputs { inherit self nixpkgs; };

  relative = p: lib.removePrefix (toString ../.. + "/") (toString p);

  fakeDrv =
    name: attrs:
    attrs
    // {
      inherit name;
      type = "derivation";
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    };

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
      # The machine imports the flake's module, so it runs the flake's build.
      packageIsFlakes = config.age.package ? passthru.sourceFiles;
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
  package =
    let
      pkg = self.packages.x86_64-linux.default;
      checked = self.checks.x86_64-linux.package;
    in
    {
      inherit (pkg) pname postInstall doCheck;
      inherit (pkg.meta) description license platforms;
      nativeCheckInputs = pkg.nativeCheckInputs or null;
      cargoLock = relative pkg.cargoLock.lockFile;
      # The flake's check is the same package with its test suite.
      checked = {
        inherit (checked) doCheck;
        nativeCheckInputs = map (d: d.name) checked.nativeCheckInputs;
      };
    };
  installedCheck = {
    inherit (self.checks.x86_64-linux.installed) buildCommand preferLocalBuild;
  };
  overlay = lib.mapAttrs (_: d: d.meta.mainProgram) (self.overlays.default (pkgsFor "x86_64-linux") { });
  # Each flake module against its stub: which age.package it ends up with by default (the
  # flake's build for the stub's system), with the configuration's own setting, and on a
  # system the flake has no package for (the module's own default: the stub's pkgs.secrets).
  # `age` and `default` are imported together: one module, so imported once.
  modules = lib.mapAttrs (
    _:
    { stub, modules }:
    let
      packageWith =
        extra:
        let
          p =
            (lib.evalModules {
              modules = [
                stub
                modules.age
                modules.default
              ] ++ extra;
            }).config.age.package;
        in
        {
          inherit (p) name;
          system = p.system or null;
          # Only the flake's build (nix/package.nix) carries its source file set.
          flakeBuild = p ? passthru.sourceFiles;
        };
    in
    {
      kinds = builtins.attrNames modules;
      default = packageWith [ ];
      userSetting = packageWith [ { age.package = fakeDrv "secrets-9.9.9" { }; } ];
      foreignSystem = packageWith [
        { _module.args.pkgs = lib.mkForce (import ./stub-pkgs.nix { hostSystem = "riscv64-linux"; }); }
      ];
    }
  ) {
    nixos = {
      stub = ./nixos-stub.nix;
      modules = self.nixosModules;
    };
    darwin = {
      stub = ./darwin-stub.nix;
      modules = self.darwinModules;
    };
    homeManager = {
      stub = ./hm-stub.nix;
      modules = self.homeManagerModules;
    };
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
