# TEST STUB, not nix-darwin. Declares the nix-darwin options that
# nix/modules/darwin.nix touches, and the fake pkgs of stub-pkgs.nix.
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
    launchd.daemons = anyAttrs;
    users.users = anyAttrs;
  };
  config._module.args.pkgs = import ./stub-pkgs.nix { hostSystem = "aarch64-darwin"; };
}
