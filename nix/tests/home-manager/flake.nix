# The home-manager VM test, in its own flake so that the main flake keeps
# nixpkgs as its only input. Run from the repository root:
#   nix flake check ./nix/tests/home-manager --override-input secrets path:.
{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    secrets = {
      url = "path:../../..";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      nixpkgs,
      home-manager,
      secrets,
      ...
    }:
    let
      pkgs = nixpkgs.legacyPackages.x86_64-linux;
    in
    {
      checks.x86_64-linux.vm-home-manager = pkgs.testers.runNixOSTest (
        import ./test.nix {
          fixtures = pkgs.callPackage ../vm/fixtures.nix { };
          homeManagerNixos = home-manager.nixosModules.home-manager;
          secretsHome = secrets.homeManagerModules.default;
        }
      );
    };
}
