# TEST STUB, not NixOS. Declares the core NixOS options that
# nix/modules/nixos.nix reads or writes, with NixOS's names, types, defaults and
# assertions, plus the fake `pkgs` of stub-pkgs.nix (nothing is built or written
# to the store). It lets nix/tests/eval.nix evaluate the module with nothing but
# nixpkgs' `lib`.
#
# At least as strict as NixOS for what it imitates, so that a configuration NixOS
# would reject fails here too. It follows nixpkgs master for NixOS 26.11, as of
# nixpkgs de42d44212d207476489bce163375d8306a26d59 (2026-06-14, the nixpkgs.lib the
# tests run with), read beside these NixOS sources:
#   nixos/lib/systemd-lib.nix           unitNameType (unit name lists)
#   nixos/lib/systemd-unit-options.nix  unit options, unitOption merging, checkService
#   nixos/modules/config/users-groups.nix  users.users/groups and their assertions
#   nixos/modules/system/boot/systemd/sysusers.nix  (system users only, `users` empty)
#   nixos/modules/services/system/userborn.nix      (not with sysusers, `users` empty)
#   nixos/modules/system/activation/nixos-init.nix  (initrd systemd, etc overlay,
#                                                   userborn or sysusers)
# Options are declared without a freeform type: a misspelt or unknown option fails
# here as it does in NixOS. (users.mutableUsers is left to whoever needs it:
# flake-outputs.nix declares it for the VM machine, eval.nix for its cases.)
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

  # systemd-lib.nix's unit name type: a name with one of systemd's unit type suffixes.
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  unitList = mkOption {
    type = types.listOf unitNameType;
    default = [ ];
  };

  # A value in [Unit]/[Service]: all definitions lists (concatenated: a repeatable
  # setting) or all single values (which must agree), as NixOS's unitOption.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
        lists = builtins.filter (d: builtins.isList d.value) defs';
      in
      if lists == [ ] then
        lib.mergeEqualOption loc defs'
      else if lists == defs' then
        lib.concatMap (d: d.value) defs'
      else
        throw "The definitions of ${lib.showOption loc} mix lists and single values; a systemd unit option takes either.";
  };

  # checkService: Type and Restart must be values systemd knows (NixOS traces the
  # reason and fails the type check).
  serviceValues = {
    Type = [
      "exec"
      "simple"
      "forking"
      "oneshot"
      "dbus"
      "notify"
      "notify-reload"
      "idle"
    ];
    Restart = [
      "no"
      "on-success"
      "on-failure"
      "on-abnormal"
      "on-abort"
      "on-watchdog"
      "always"
    ];
  };
  checkService =
    attrs:
    let
      bad = lib.filter (k: attrs ? ${k} && !(builtins.elem attrs.${k} serviceValues.${k})) (
        builtins.attrNames serviceValues
      );
      why = map (k: "systemd unit option [Service] ${k} = ${toString attrs.${k}} is not one of ${toString serviceValues.${k}}") bad;
    in
    if bad == [ ] then true else builtins.trace (lib.concatStringsSep "\n" why) false;

  # stage2ServiceOptions, the part any module may set here.
  serviceType = types.submodule {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      description = mkOption {
        type = types.singleLineStr;
        default = "";
      };
      wantedBy = unitList;
      requiredBy = unitList;
      upheldBy = unitList;
      aliases = unitList;
      requires = unitList;
      wants = unitList;
      upholds = unitList;
      after = unitList;
      before = unitList;
      bindsTo = unitList;
      partOf = unitList;
      conflicts = unitList;
      requisite = unitList;
      onFailure = unitList;
      onSuccess = unitList;
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      reloadTriggers = mkOption {
        type = types.listOf unitOption;
        default = [ ];
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.addCheck (types.attrsOf unitOption) checkService;
        default = { };
      };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      path = mkOption {
        type = types.listOf (types.oneOf [ types.package types.str ]);
        default = [ ];
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
    };
  };

  # users-groups.nix's userOpts, the options the module and the tests touch.
  userType = types.submodule (
    { name, config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
        };
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        uid = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        group = mkOption {
          type = types.str;
          default = "";
        };
        extraGroups = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        isNormalUser = mkOption {
          type = types.bool;
          default = false;
        };
        isSystemUser = mkOption {
          type = types.bool;
          default = false;
        };
        description = mkOption {
          type = types.str;
          default = "";
        };
        home = mkOption {
          type = types.str;
          default = "/var/empty";
        };
        createHome = mkOption {
          type = types.bool;
          default = false;
        };
        useDefaultShell = mkOption {
          type = types.bool;
          default = false;
        };
        hashedPassword = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        hashedPasswordFile = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
      };
      # As NixOS: normal users default to the "users" group.
      config.group = lib.mkIf config.isNormalUser (lib.mkDefault "users");
    }
  );
  groupType = types.submodule (
    { name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
        };
        gid = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        members = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
      };
    }
  );

  usersCfg = config.users;
  sysusers = config.systemd.sysusers.enable;
  userborn = config.services.userborn.enable;
  xor = a: b: a != b;

  # users-groups.nix's assertions, one set per user.
  userAssertions = lib.concatLists (
    lib.mapAttrsToList (_: u: [
      {
        assertion = builtins.match "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*" u.name != null;
        message = "The username \"${u.name}\" is not valid.";
      }
      {
        assertion = u.isNormalUser && u.uid != null -> u.uid >= 1000;
        message = "users.users.${u.name}: a normal user cannot have a uid below 1000.";
      }
      {
        assertion = xor (
          u.isSystemUser || (u.uid != null && u.uid < 1000 && !u.isNormalUser)
        ) u.isNormalUser;
        message = "Exactly one of users.users.${u.name}.isSystemUser and users.users.${u.name}.isNormalUser must be set.";
      }
      {
        assertion = u.group != "";
        message = "users.users.${u.name}.group is unset.";
      }
    ]) usersCfg.users
  );
  withoutGroup = lib.filterAttrs (
    _: u: u.group != "" && !(usersCfg.groups ? ${u.group})
  ) usersCfg.users;

  # As NixOS (activation-script.nix): strings become dependency-free entries,
  # each snippet gets a headline, textClosureMap orders them.
  scripts = lib.mapAttrs (
    name: v:
    let
      e =
        if builtins.isString v then
          {
            text = v;
            deps = [ ];
          }
        else
          v;
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
      type = types.attrsOf serviceType;
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
    boot.initrd.systemd.enable = mkOption {
      type = types.bool;
      default = false;
    };
    system.etc.overlay.enable = mkOption {
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
      type = types.attrsOf userType;
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf groupType;
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
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
    _module.args.pkgs = lib.mkDefault pkgs;

    # users-groups.nix's own accounts and (some of its) groups.
    users.users.root = {
      uid = 0;
      group = "root";
    };
    users.users.nobody = {
      uid = 65534;
      isSystemUser = true;
      group = "nogroup";
    };
    users.groups = lib.genAttrs [
      "root"
      "wheel"
      "users"
      "nogroup"
      "nixbld"
      "keys"
    ] (_: { });

    # NixOS's own snippets that the module orders against. With
    # sysusers/userborn NixOS requires `users` to be the empty string.
    system.activationScripts = {
      specialfs = "# stub: mount /proc, /run, ...";
      users =
        if sysusers || userborn then
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

    assertions =
      userAssertions
      ++ [
        {
          assertion = withoutGroup == { };
          message = "The following users have a primary group that is undefined: ${toString (builtins.attrNames withoutGroup)}";
        }
        # sysusers.nix and userborn.nix.
        {
          assertion = !(sysusers || userborn) || config.system.activationScripts.users == "";
          message = "system.activationScripts.users has to be empty to use systemd-sysusers";
        }
        {
          assertion = !(sysusers && userborn);
          message = "You cannot use systemd-sysusers and Userborn at the same time";
        }
      ]
      ++ lib.optionals sysusers (
        lib.mapAttrsToList (n: u: {
          assertion = u.enable -> !u.isNormalUser;
          message = "${n} is a normal user. systemd-sysusers doesn't create normal users, only system users.";
        }) usersCfg.users
      )
      # nixos-init.nix.
      ++ lib.optionals config.system.nixos-init.enable [
        {
          assertion = config.boot.initrd.systemd.enable;
          message = "nixos-init can only be used with boot.initrd.systemd.enable";
        }
        {
          assertion = config.system.etc.overlay.enable;
          message = "nixos-init can only be used with system.etc.overlay.enable";
        }
        {
          assertion = userborn || sysusers;
          message = "nixos-init can only be used with services.userborn.enable or systemd.sysusers.enable";
        }
      ];
  };
}
