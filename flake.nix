{
  description = "age-encrypted secrets for NixOS fleets: an agenix drop-in with rekey, check and a one-process installer";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # Each module as a value (Nix 2.8's `flake check` rejects a bare path: "module must be
      # a function or an attribute set"), defaulting age.package to this flake's own build
      # for the host system: the same store path for everyone on this flake's nixpkgs, so
      # it can come from a cache instead of a build with each configuration's nixpkgs.
      # mkDefault: a configuration's own age.package wins. On a system the flake has no
      # package for, the module's own default applies (the overlay's pkgs.secrets, else a
      # build with the configuration's nixpkgs).
      flakeModule =
        class: file:
        let
          # One key per class: importing both `age` and `default` imports it once.
          key = "${toString ./flake.nix}#${class}";
        in
        { lib, pkgs, ... }:
        let
          inherit (pkgs.stdenv.hostPlatform) system;
        in
        {
          _file = key;
          inherit key;
          imports = [ file ];
          config.age.package = lib.mkIf (self.packages ? ${system}) (
            lib.mkDefault self.packages.${system}.secrets
          );
        };
      nixosModule = flakeModule "nixosModules" ./nix/modules/nixos.nix;
      darwinModule = flakeModule "darwinModules" ./nix/modules/darwin.nix;
      homeManagerModule = flakeModule "homeManagerModules" ./nix/modules/home-manager.nix;

      # One build: the three differ in meta (what `nix run` starts), not in the output.
      packagesFor = pkgs: rec {
        secrets = pkgs.callPackage ./nix/package.nix { };
        default = secrets;
        agenix = pkgs.callPackage ./nix/package.nix { mainProgram = "agenix"; };
        ragenix = pkgs.callPackage ./nix/package.nix { mainProgram = "ragenix"; };
      };
    in
    {
      # `agenix` and `ragenix`, as those flakes name theirs: `nix run <flake>#agenix -- -e x.age`
      # starts the agenix-speaking link.
      packages = forAllSystems packagesFor;

      # pkgs.secrets, pkgs.agenix and pkgs.ragenix, built with the importing nixpkgs.
      overlays.default = final: _prev: builtins.removeAttrs (packagesFor final) [ "default" ];

      # `age` and `default`, as agenix names them, so swapping the input is enough.
      nixosModules = {
        age = nixosModule;
        default = nixosModule;
      };
      darwinModules = {
        age = darwinModule;
        default = darwinModule;
      };
      homeManagerModules = {
        age = homeManagerModule;
        default = homeManagerModule;
      };

      checks = forAllSystems (
        pkgs:
        {
          # Builds and runs the Rust test suite (cargo test in checkPhase): the packages
          # themselves leave it out (nix/package.nix says why).
          package = pkgs.callPackage ./nix/package.nix { doCheck = true; };
          # What the package installs: the agenix entry behind `nix run <flake>#agenix` (its
          # help), the ragenix link, the man page and the completions.
          installed =
            let
              inherit (self.packages.${pkgs.stdenv.hostPlatform.system}) agenix ragenix secrets;
            in
            pkgs.runCommandLocal "secrets-installed" { } ''
              ${lib.getExe agenix} --help > help
              grep -q 'agenix -e FILE' help || {
                echo "${lib.getExe agenix} --help does not print agenix's help:" >&2
                cat help >&2
                exit 1
              }
              for f in ${lib.getExe ragenix} ${secrets}/share/man/man1/secrets.1.gz \
                ${secrets}/share/man/man1/secrets-edit.1.gz ${secrets}/share/man/man1/agenix.1.gz \
                ${secrets}/share/bash-completion/completions/secrets.bash; do
                [ -e "$f" ] || { echo "the package lacks $f" >&2; exit 1; }
              done
              touch $out
            '';
        }
        # VM tests need KVM; run with `nix flake check` on a Linux builder.
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux (
          import ./nix/tests/vm {
            inherit pkgs;
            # The flake's module, so the VM runs the flake's package.
            secretsModule = nixosModule;
          }
        )
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = [
            pkgs.age
            pkgs.cargo
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.nixfmt-rfc-style
          ];
          # Lets tests/nix_module/ find <nixpkgs/lib>.
          NIX_PATH = "nixpkgs=${nixpkgs}";
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree or pkgs.nixfmt-rfc-style);
    };
}
