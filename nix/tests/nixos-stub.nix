# TEST STUB, not NixOS. Declares the few core NixOS options that
# nix/modules/nixos.nix reads or writes, with NixOS's names, types and
# relevant defaults, plus the fake `pkgs` of stub-pkgs.nix (nothing is built
# or written to the store). It lets nix/tests/eval.nix
# evaluate the module with nothing but nixpkgs' `lib`.
#
# Test-only outputs live under `stub.*`:
#   stub.activationScript  the activation snippets concatenated in dependency
#                          order, each under NixOS's headline
#                          "#### Activation script snippet <name>:"
#   stub.activationOrder   the snippet names in that order
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkOption types;

  pkgs = import ./stub-pkgs.nix { };

  scriptType = types.either types.str (
    types.submodule {
      options = {
        # No default, as in NixOS: an entry without text fails there.
        text = mkOption {
          type = types.lines;
        };
        deps = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        supportsDryActivation = mkOption {
          type = types.bool;
          default = false;
        };
      };
    }
  );

  listOpt = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  unitType = types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      wantedBy = listOpt;
      requiredBy = listOpt;
      before = listOpt;
      after = listOpt;
      wants = listOpt;
      requires = listOpt;
      conflicts = listOpt;
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      unitConfig = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
    };
  };

  # As NixOS does it (activation-script.nix): strings become dependency-free
  # entries, each snippet gets a headline, textClosureMap orders them.
  scripts = lib.mapAttrs (
    name: v:
    let
      e = if builtins.isString v then { text = v; deps = [ ]; } else v;
    in
    e // { text = "#### Activation script snippet ${name}:\n${e.text}"; }
  ) config.system.activationScripts;
  names = lib.mapAttrs (name: v: v // { text = name; }) scripts;
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
    system.activationScripts = mkOption {
      type = types.attrsOf scriptType;
      default = { };
    };
    systemd.services = mkOption {
      type = types.attrsOf unitType;
      default = { };
    };
    systemd.package = mkOption {
      type = types.package;
      default = pkgs.systemd;
    };
    system.nixos-init.enable = mkOption {
      type = types.bool;
      default = false;
    };
    systemd.sysusers.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.userborn.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.hostKeys = mkOption {
      type = types.listOf types.attrs;
      # NixOS's default.
      default = [
        {
          type = "rsa";
          bits = 4096;
          path = "/etc/ssh/ssh_host_rsa_key";
        }
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
      ];
    };
    users.users = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, config, ... }:
          {
            freeformType = types.attrsOf types.anything;
            options = {
              name = mkOption {
                type = types.str;
                default = name;
              };
              enable = mkOption {
                type = types.bool;
                default = true;
              };
              group = mkOption {
                type = types.str;
                default = "";
              };
              isNormalUser = mkOption {
                type = types.bool;
                default = false;
              };
              hashedPasswordFile = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
            };
            # As NixOS: normal users default to the "users" group.
            config.group = lib.mkIf config.isNormalUser (lib.mkDefault "users");
          }
        )
      );
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { freeformType = types.attrsOf types.anything; });
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };

    stub.activationScript = mkOption {
      type = types.str;
      readOnly = true;
      default = lib.stringsWithDeps.textClosureMap lib.id scripts (builtins.attrNames scripts);
    };
    stub.activationOrder = mkOption {
      type = types.listOf types.str;
      readOnly = true;
      default = lib.stringsWithDeps.textClosureList names (builtins.attrNames names);
    };
  };

  config = {
    _module.args.pkgs = pkgs;

    users.users.root = {
      group = "root";
    };
    users.groups.root = { };

    # NixOS's own snippets that the module orders against. With
    # sysusers/userborn NixOS requires `users` to be the empty string.
    system.activationScripts = {
      specialfs = "# stub: mount /proc, /run, ...";
      users =
        if config.systemd.sysusers.enable || config.services.userborn.enable then
          ""
        else
          {
            text = "# stub: update-users-groups (reads hashedPasswordFile)";
            supportsDryActivation = true;
          };
      groups = {
        text = "# stub: groups";
        deps = [ "users" ];
      };
    };

    # Mirrors NixOS's sysusers/userborn assertion.
    assertions = [
      {
        assertion =
          !(config.systemd.sysusers.enable || config.services.userborn.enable)
          || config.system.activationScripts.users == "";
        message = "system.activationScripts.users has to be empty to use systemd-sysusers";
      }
    ];
  };
}
