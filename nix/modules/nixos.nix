# NixOS module: agenix-compatible `age.*` options (declared in options.nix);
# installation by one call of `secrets install` per phase, with a JSON manifest
# built here.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkIf
    mkMerge
    filterAttrs
    mapAttrsToList
    ;
  shared = import ./shared.nix { inherit lib; };
  cfg = config.age;

  sysusersEnabled = shared.sysusersEnabled config;
  nixosInit = shared.nixosInit config;

  hasSecrets = cfg.secrets != { } || cfg.templates != { };
  usersSecrets = filterAttrs (_: s: s.neededForUsers) cfg.secrets;
  hasUsersSecrets = usersSecrets != { };

  useActivation = cfg.installationMode == "activation";

  # agenix installs every secret before `users` (root's) and gives them their owners after
  # users and groups exist, so its documented `hashedPasswordFile =
  # config.age.secrets.x.path` works for any secret. So does installationMode =
  # "activation" here (agenixInstall, agenixChown). Where users are created before the
  # main phase runs, a password file other than a neededForUsers secret would be missing
  # then and the account left without its password: caught at evaluation (promoting the
  # secret automatically would be a cycle: its path depends on neededForUsers).
  whyMissing =
    if sysusersEnabled then
      "which is installed by the agenix-install-secrets unit after systemd-sysusers/userborn has created the accounts"
    else
      ''which with age.installationMode = "systemd" is installed by the agenix-install-secrets unit, after the `users` activation script has read it'';
  installedAfterUsers =
    mapAttrsToList (n: s: {
      what = "age.secrets.${n}.path";
      fix = "set age.secrets.${n}.neededForUsers = true (its path then moves to ${cfg.secretsDirForUsers}/${s.name})${
        lib.optionalString (!sysusersEnabled) '', or use age.installationMode = "activation"''
      }";
      inherit (s) path;
    }) (filterAttrs (_: s: !s.neededForUsers) cfg.secrets)
    ++ mapAttrsToList (n: t: {
      what = "age.templates.${n}.path";
      fix = "templates are rendered by that unit too; use a neededForUsers secret holding the hash${
        lib.optionalString (!sysusersEnabled) '', or age.installationMode = "activation"''
      }";
      inherit (t) path;
    }) cfg.templates;
  passwordFileAssertions = lib.optionals (!useActivation) (
    lib.concatLists (
      mapAttrsToList (
        u: user:
        map (item: {
          assertion = false;
          message = "users.users.${u}.hashedPasswordFile is ${item.what} (${item.path}), ${whyMissing}, so at boot the account would get no password: ${item.fix}.";
        }) (builtins.filter (item: (user.hashedPasswordFile or null) == item.path) installedAfterUsers)
      ) (filterAttrs (_: user: user.enable or true) config.users.users)
    )
  );

  manifest = shared.mkManifest {
    inherit cfg;
    inherit (cfg) filesystem restartMode secretsDirForUsers;
  };

  manifestFile = pkgs.writeText "agenix-manifest.json" (builtins.toJSON manifest);

  # Validating at build time turns a typo, a missing file or a forgotten rekey
  # (with age.hostPublicKeys) into a build failure instead of a broken boot.
  canCheck = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
  checkedManifest =
    if cfg.validateManifest && canCheck then
      pkgs.runCommand "agenix-manifest-checked.json" { } ''
        ${cfg.package}/bin/secrets install --check --manifest ${manifestFile}
        cp ${manifestFile} "$out"
      ''
    else
      manifestFile;

  checkWarnings = shared.skippedCheckWarnings {
    inherit cfg pkgs canCheck;
  };

  # The oldest NixOS this module is written for: sysinit-reactivation.target (the units
  # are re-run on switch through it) and the sysusers module came with NixOS 24.05.
  oldestRelease = "24.05";
  release = lib.trivial.release;
  # NixOS 24.05 and 24.11 built /etc/passwd at build time with systemd-sysusers and
  # users.mutableUsers = false (no systemd-sysusers.service at boot): a hashedPasswordFile
  # was read by the build, where no decrypted secret exists.
  staticSysusers =
    lib.versionOlder release "25.05"
    && (config.systemd.sysusers.enable or false)
    && !(config.users.mutableUsers or true);
  secretPaths = map (s: s.path) (builtins.attrValues cfg.secrets) ++ map (t: t.path) (builtins.attrValues cfg.templates);
  staticPasswordUsers = builtins.attrNames (
    filterAttrs (_: u: (u.enable or true) && builtins.elem (u.hashedPasswordFile or null) secretPaths) config.users.users
  );

  install = phase: "${cfg.package}/bin/secrets install --manifest ${checkedManifest} --phase ${phase}";
  # Activation scripts run with a PATH without systemd; units have it already.
  installFromActivation = phase: ''PATH="$PATH:${config.systemd.package}/bin" ${install phase}'';

  # Shared by both units: run early (before sysinit.target, like
  # systemd-sysusers) and again on every switch that changes the manifest.
  earlyUnit = {
    wantedBy = [ "sysinit.target" ];
    requiredBy = [ "sysinit-reactivation.target" ];
    before = [
      "sysinit.target"
      "sysinit-reactivation.target"
      "shutdown.target"
    ];
    conflicts = [ "shutdown.target" ];
    restartTriggers = [ checkedManifest ];
    unitConfig.DefaultDependencies = false;
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
    };
  };
in
{
  imports = [ (import ./options.nix { isDarwin = false; }) ];

  config = mkMerge [
    {
      age.manifest = manifest;
      age.manifestFile = checkedManifest;
    }

    (
      let
        c = shared.checks cfg;
      in
      mkIf hasSecrets {
        assertions =
          c.assertions
          ++ passwordFileAssertions
          ++ mapAttrsToList (n: s: {
            assertion = builtins.elem s.owner [ "0" "root" ] && builtins.elem s.group [ "0" "root" ];
            message = ''age.secrets.${n}: neededForUsers secrets are installed before users exist and must be owned by root (owner/group "root" or "0"), not ${s.owner}:${s.group}.'';
          }) usersSecrets
          ++ [
            {
              # nixos-init requires sysusers or userborn: its own message says more.
              assertion = !(useActivation && sysusersEnabled && !nixosInit);
              message = ''age.installationMode = "activation" cannot be combined with systemd.sysusers or services.userborn (users are created by a unit there); use "systemd".'';
            }
            {
              assertion = !(useActivation && nixosInit);
              message = ''age.installationMode = "activation" installs nothing with system.nixos-init.enable (it runs no activation scripts); use "systemd".'';
            }
            {
              assertion = useActivation || cfg.restartMode != "activation-list";
              message = ''age.restartMode = "activation-list" with age.installationMode = "systemd": the unit runs after switch-to-configuration has read the lists, so the restarts would happen at the next switch; use "systemctl".'';
            }
          ];
        warnings = c.warnings ++ checkWarnings;
      }
    )

    {
      assertions = [
        {
          assertion = lib.versionAtLeast release oldestRelease;
          message = "age (secrets): this NixOS is ${release}; the module needs NixOS ${oldestRelease} or later (sysinit-reactivation.target, which re-runs its units on switch). Use agenix on this release, or upgrade.";
        }
        {
          assertion = !(staticSysusers && staticPasswordUsers != [ ]);
          message = "users.users.${lib.head staticPasswordUsers}.hashedPasswordFile is a secret, but on NixOS ${release} systemd.sysusers.enable with users.mutableUsers = false builds /etc/passwd and /etc/shadow when the system is built, reading the password file then, where no decrypted secret exists (there is no systemd-sysusers.service at boot). Set users.mutableUsers = true, use the scripted users setup (systemd.sysusers.enable = false), or upgrade to NixOS 25.05 or later.";
        }
      ];
      # Also without secrets: a leftover agenix setting should be noticed before the
      # first secret is added.
      warnings = lib.optional (options.age.ageBin.highestPrio < (lib.mkOptionDefault null).priority) "age.ageBin is set but unused: secrets are decrypted by age.package (${cfg.package.name or "secrets"}); remove age.ageBin (age plugins go in age.plugins).";
    }

    # Activation scripts, agenix's names and order, so that scripts ordered after them keep
    # working: agenixNewGeneration (ordering only) -> agenixInstall -> users, groups ->
    # agenixChown -> agenix (empty: what other scripts depend on).
    # Activation mode: agenixInstall installs every secret and template (the users phase
    # and the main phase with --defer-owners: root's, owner bits only), so anything after
    # it (`users` reading a password file) finds them all; agenixChown (--phase owners)
    # gives them their owners, groups and modes once those exist, and does the restarts.
    # Systemd mode: agenixInstall installs neededForUsers secrets for the `users` script;
    # the units do the rest.
    # Installed even without secrets: the installer then does nothing on a host that never had
    # any, and removes what is left on a host whose last secret was just removed (agenix
    # leaves it until reboot).
    {
      system.activationScripts = {
        agenixNewGeneration = {
          text = "";
          deps = [ "specialfs" ];
        };
        agenixInstall = {
          text =
            if useActivation then
              installFromActivation "all --defer-owners"
            else
              lib.optionalString (hasUsersSecrets && !sysusersEnabled) (installFromActivation "users");
          deps = [
            "specialfs"
            "agenixNewGeneration"
          ];
          supportsDryActivation = true;
        };
        # Not in a dry activation: the dry install above changed nothing to apply owners to
        # (and it says which units it would restart).
        agenixChown = {
          text = lib.optionalString useActivation (installFromActivation "owners");
          deps =
            [ "agenixInstall" ]
            ++ lib.optionals (!sysusersEnabled) [
              "users"
              "groups"
            ];
        };
        agenix = {
          text = "";
          deps = [ "agenixChown" ];
        };
      } // lib.optionalAttrs (!sysusersEnabled) {
        # Password files must exist when `users` reads hashedPasswordFile.
        # (With sysusers/userborn `users` must stay empty.)
        users.deps = [ "agenixInstall" ];
      };
    }

    (mkIf (!useActivation) {
      systemd.services = mkMerge [
        (mkIf (hasUsersSecrets && sysusersEnabled) {
          # userborn.service aliases systemd-sysusers.service; both are named
          # so the ordering holds whichever is in use.
          agenix-install-users = lib.recursiveUpdate earlyUnit {
            description = "Install secrets needed to create users";
            after = [ "systemd-remount-fs.service" ];
            before = earlyUnit.before ++ [
              "systemd-sysusers.service"
              "userborn.service"
            ];
            serviceConfig.ExecStart = install "users";
          };
        })
        {
          agenix-install-secrets = lib.recursiveUpdate earlyUnit {
            description = "Install secrets";
            after = [
              "systemd-remount-fs.service"
              "systemd-sysusers.service"
              "userborn.service"
            ] ++ lib.optional (hasUsersSecrets && sysusersEnabled) "agenix-install-users.service";
            # Identities may live on a separately mounted file system
            # (/persist). Not for the users unit: ordered before
            # systemd-sysusers, it runs before local file systems are
            # mounted, and waiting for one would be an ordering cycle.
            unitConfig.RequiresMountsFor = map toString cfg.identityPaths;
            serviceConfig.ExecStart = install "main";
          };
        }
      ];
    })
  ];
}
