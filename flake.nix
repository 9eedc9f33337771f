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

      # The modules build the package with the importing system's nixpkgs
      # unless `pkgs.secrets` exists (overlay) or age.package is set.
      nixosModule = ./nix/modules/nixos.nix;
      darwinModule = ./nix/modules/darwin.nix;
      homeManagerModule = ./nix/modules/home-manager.nix;
    in
    {
      # `agenix` is the same build (meta differs, the output does not) whose
      # `nix run` program is the agenix-speaking link, as agenix's flake has it.
      packages = forAllSystems (pkgs: rec {
        secrets = pkgs.callPackage ./nix/package.nix { };
        default = secrets;
        agenix = pkgs.callPackage ./nix/package.nix { mainProgram = "agenix"; };
      });

      overlays.default = final: _prev: {
        secrets = final.callPackage ./nix/package.nix { };
        agenix = final.callPackage ./nix/package.nix { mainProgram = "agenix"; };
      };

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
          # Builds and runs the Rust test suite (cargo test in checkPhase).
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        }
        # VM tests need KVM; run with `nix flake check` on a Linux builder.
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux (
          import ./nix/tests/vm {
            inherit pkgs;
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
