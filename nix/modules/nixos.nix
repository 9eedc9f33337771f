# NixOS module: agenix-compatible `age.*` options; installation by one call of
# `secrets install` with a JSON manifest built here.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    types
    literalExpression
    filterAttrs
    mapAttrsToList
    ;
  shared = import ./shared.nix { inherit lib; };
  cfg = config.age;

  # `or false`: the options only exist in recent NixOS releases.
  sysusersEnabled =
    (config.systemd.sysusers.enable or false) || (config.services.userborn.enable or false);

  hasSecrets = cfg.secrets != { } || cfg.templates != { };
  usersSecrets = filterAttrs (_: s: s.neededForUsers) cfg.secrets;
  hasUsersSecrets = usersSecrets != { };

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

  install = phase: "${cfg.package}/bin/secrets install --manifest ${checkedManifest} --phase ${phase}";

  useActivation = cfg.installationMode == "activation";

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
    unitConfig = {
      DefaultDependencies = false;
      # Identities may live on a separately mounted file system (/persist).
      RequiresMountsFor = map toString cfg.identityPaths;
    };
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
    };
  };
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "age" "sshKeyPaths" ] [ "age" "identityPaths" ])
  ];

  options.age = {
    # --- agenix's options (same names, types, defaults) ---
    ageBin = mkOption {
      type = types.str;
      default = "${pkgs.age}/bin/age";
      defaultText = literalExpression ''"''${pkgs.age}/bin/age"'';
      description = ''
        Accepted for compatibility with agenix and unused: decryption is done by
        `age.package`. Setting it produces a warning.
      '';
    };
    secrets = mkOption {
      type = types.attrsOf (
        shared.secretType {
          inherit (cfg) secretsDir secretsDirForUsers;
          users = config.users.users;
        }
      );
      default = { };
      description = "Attribute set of secrets.";
    };
    secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
      description = "Stable symlink to the current generation of decrypted secrets.";
    };
    secretsMountPoint = mkOption {
      type = shared.mountPointType;
      default = "/run/agenix.d";
      description = "Where the in-memory file system holding the generations is mounted.";
    };
    identityPaths = mkOption {
      type = types.listOf types.path;
      default =
        if config.services.openssh.enable or false then
          map (e: e.path) (
            builtins.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys
          )
        else
          [ ];
      defaultText = literalExpression ''
        if config.services.openssh.enable
        then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else [ ]
      '';
      description = ''
        Private keys (SSH host keys or age identities) tried for decryption. Give
        strings, not Nix paths: a path literal would copy the key into the store.
      '';
    };

    # --- additions ---
    package = mkOption {
      type = types.package;
      default =
        pkgs.secrets
          or (throw "age.package is not set: import the module from this project's flake (nixosModules.default) or add its overlays.default to nixpkgs.overlays.");
      defaultText = literalExpression "pkgs.secrets";
      description = "The `secrets` package whose installer decrypts the secrets.";
    };
    secretsDirForUsers = mkOption {
      type = types.str;
      default = "/run/agenix-for-users";
      description = "Stable symlink to the secrets marked `neededForUsers`.";
    };
    keepGenerations = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many generations of decrypted secrets to keep, including the current one.";
    };
    filesystem = mkOption {
      type = types.enum [
        "tmpfs"
        "ramfs"
      ];
      default = "tmpfs";
      description = ''
        File system mounted at `secretsMountPoint`. `tmpfs` is mounted with
        `noswap` where the kernel supports it (else the installer falls back to
        ramfs); `ramfs` is what agenix uses.
      '';
    };
    failClosed = mkOption {
      type = types.bool;
      default = false;
      description = ''
        If a secret cannot be decrypted: false keeps its previous value and reports
        the failure; true does not switch to the new generation at all (and the
        installer exits non-zero).
      '';
    };
    installationMode = mkOption {
      type = types.enum [
        "activation"
        "systemd"
      ];
      default = if sysusersEnabled then "systemd" else "activation";
      defaultText = literalExpression ''if systemd.sysusers.enable || services.userborn.enable then "systemd" else "activation"'';
      description = ''
        `activation`: activation scripts (as agenix), users phase before the
        `users` script, main phase after `users`/`groups`. `systemd`: oneshot
        units ordered before `sysinit.target` and re-run on switch; secrets needed
        for users are installed before systemd-sysusers/userborn (or, with the
        scripted users setup, still by an activation script).
      '';
    };
    restartMode = mkOption {
      type = types.enum [
        "systemctl"
        "activation-list"
        "none"
      ];
      default = if useActivation then "activation-list" else "systemctl";
      defaultText = literalExpression ''if installationMode == "activation" then "activation-list" else "systemctl"'';
      description = ''
        How `restartUnits`/`reloadUnits` are acted on: queued for
        switch-to-configuration (activation scripts), directly with systemctl
        (units), or not at all.
      '';
    };
    hostPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAAC3Nza... root@host" ];
      description = ''
        This host's SSH public keys. When set, the build fails if a secret is not
        encrypted to any of them (a forgotten rekey).
      '';
    };
    validateManifest = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `secrets install --check` on the manifest while building the system
        (skipped when cross-compiling).
      '';
    };
    templates = mkOption {
      type = types.attrsOf (
        shared.templateType {
          inherit (cfg) secretsDir;
          users = config.users.users;
        }
      );
      default = { };
      description = "Files rendered from non-secret text with secrets substituted for placeholders.";
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      default = lib.mapAttrs (n: _: shared.placeholderFor n) cfg.secrets;
      defaultText = literalExpression ''{ <secret> = "<SECRET:''${sha256 <secret>}:PLACEHOLDER>"; }'';
      description = "Placeholder string of each secret, for use in `age.templates.<name>.content`.";
    };
    manifest = mkOption {
      type = types.attrs;
      internal = true;
      readOnly = true;
      default = manifest;
      description = "The manifest given to the installer (for tests and debugging).";
    };
    manifestFile = mkOption {
      type = types.unspecified;
      internal = true;
      readOnly = true;
      default = checkedManifest;
      description = "The (validated) manifest file in the store.";
    };
  };

  config = mkMerge [
    (
      let
        c = shared.checks cfg;
      in
      mkIf hasSecrets {
        assertions =
          c.assertions
          ++ mapAttrsToList (n: s: {
            assertion = builtins.elem s.owner [ "0" "root" ] && builtins.elem s.group [ "0" "root" ];
            message = ''age.secrets.${n}: neededForUsers secrets are installed before users exist and must be owned by root (owner/group "root" or "0"), not ${s.owner}:${s.group}.'';
          }) usersSecrets
          ++ [
            {
              assertion = !(useActivation && sysusersEnabled);
              message = ''age.installationMode = "activation" cannot be combined with systemd.sysusers or services.userborn (users are created by a unit there); use "systemd".'';
            }
          ];
        warnings =
          c.warnings
          ++ lib.optional (options.age.ageBin.highestPrio < (lib.mkOptionDefault null).priority)
            "age.ageBin is set but unused: secrets are decrypted by age.package (${cfg.package.name or "secrets"}); remove age.ageBin.";
      }
    )

    # Activation scripts. The agenix names stay so that scripts ordered after
    # them keep working: agenixInstall = users phase (before `users`), agenix =
    # main phase (after users/groups), the others are ordering-only aliases.
    (mkIf hasSecrets {
      system.activationScripts = {
        agenixNewGeneration = {
          text = "";
          deps = [ "specialfs" ];
        };
        agenixInstall = {
          text = lib.optionalString (hasUsersSecrets && !sysusersEnabled) (install "users");
          deps = [
            "specialfs"
            "agenixNewGeneration"
          ];
          supportsDryActivation = true;
        };
        agenix = {
          text = lib.optionalString useActivation (install "main");
          deps = [
            "specialfs"
            "agenixInstall"
          ] ++ lib.optionals (!sysusersEnabled) [
            "users"
            "groups"
          ];
          supportsDryActivation = true;
        };
        agenixChown = {
          text = "";
          deps = [ "agenix" ];
        };
      } // lib.optionalAttrs (!sysusersEnabled) {
        # Password files must exist when `users` reads hashedPasswordFile.
        # (With sysusers/userborn `users` must stay empty.)
        users.deps = [ "agenixInstall" ];
      };
    })

    (mkIf (hasSecrets && !useActivation) {
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
            serviceConfig.ExecStart = install "main";
          };
        }
      ];
    })
  ];
}
