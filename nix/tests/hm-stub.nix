# TEST STUB, not home-manager. Declares the home-manager options that
# nix/modules/home-manager.nix touches, and the fake pkgs of stub-pkgs.nix.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  anyAttrs = mkOption {
    type = types.attrsOf types.anything;
    default = { };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    home.homeDirectory = mkOption {
      type = types.str;
      default = "/home/alice";
    };
    systemd.user.services = anyAttrs;
    launchd.agents = anyAttrs;
  };
  config._module.args.pkgs = import ./stub-pkgs.nix { };
}
