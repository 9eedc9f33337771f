# Pieces shared by the NixOS, nix-darwin and home-manager modules: option
# declarations for secrets and templates, the placeholder string, checks, and
# the manifest (v1, see the manifest spec) that `secrets install` consumes.
#
# Everything per-secret is decided here, in Nix; the generated shell/units only
# call the binary with the manifest.
{ lib }:
let
  inherit (lib)
    mkOption
    types
    literalExpression
    mapAttrs
    mapAttrsToList
    filterAttrs
    concatLists
    ;

  validate = import ./validate.nix { inherit lib; };
in
rec {
  # The installer substitutes this string in template content by the secret's
  # plaintext. Hashing the attribute name keeps arbitrary names safe inside
  # any text format.
  placeholderFor = name: "<SECRET:${builtins.hashString "sha256" name}:PLACEHOLDER>";

  # `age.placeholder`: read-only, one placeholder per declared secret.
  placeholderOption =
    secrets:
    mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      default = mapAttrs (n: _: placeholderFor n) secrets;
      defaultText = literalExpression ''{ <secret> = "<SECRET:''${sha256 <secret>}:PLACEHOLDER>"; }'';
      description = "Placeholder string of each secret, for use in `age.templates.<name>.content`.";
    };

  # agenix's type for secretsMountPoint, kept so that the same values are accepted.
  mountPointType =
    types.addCheck types.str (
      s: builtins.match "[ \t\n]*" s == null && builtins.match ".+/" s == null
    )
    // {
      description = "${types.str.description} (with check: non-empty without trailing slash)";
    };

  # How the NixOS host is set up, for the platform modules. `or false`: these
  # options exist only in recent NixOS releases (and not on nix-darwin).
  # Users made by systemd-sysusers or userborn units, not the `users` script:
  sysusersEnabled =
    config: (config.systemd.sysusers.enable or false) || (config.services.userborn.enable or false);
  # nixos-init runs no activation scripts at all.
  nixosInit = config: config.system.nixos-init.enable or false;

  # `age.plugins`: agenix users reached age plugins through `ageBin` (a wrapper
  # with the plugin on PATH); here the installer finds them in these packages.
  pluginsOption = mkOption {
    type = types.listOf types.package;
    default = [ ];
    example = literalExpression "[ pkgs.age-plugin-yubikey ]";
    description = ''
      age plugins (packages with `bin/age-plugin-<name>`) searched first when an
      identity is a plugin identity (`AGE-PLUGIN-…`).
    '';
  };

  unitListOption =
    what:
    mkOption {
      type = types.listOf validate.unitNameType;
      default = [ ];
      example = [ "nginx.service" ];
      description = ''
        systemd units to ${what} when this value changes (compared with the
        previous generation). With `age.restartMode = "systemctl"` (the
        default) units that are not running are left alone; with
        `"activation-list"` switch-to-configuration acts on them as on a
        changed unit (a stopped unit is started, `restartIfChanged = false`
        is honoured); with `"none"` nothing is done.
      '';
    };

  # `owner` and `group` of an installed file (agenix's defaults: root, and the
  # owner's primary group when the owner is a declared user).
  ownershipOptions = users: config: what: {
    owner = mkOption {
      type = validate.principalType;
      default = "0";
      description = "Owner of the ${what} file: a user name or numeric id.";
    };
    group = mkOption {
      type = validate.principalType;
      default = users.${config.owner}.group or "0";
      defaultText = literalExpression ''users.''${config.owner}.group or "0"'';
      description = "Group of the ${what} file: a group name or numeric id.";
    };
  };

  # The `format`s a secret may have (the installer's `structured::Format`).
  structuredFormats = [
    "binary"
    "json"
    "yaml"
    "dotenv"
    "ini"
  ];

  # `age.defaultFile`, on every platform.
  defaultFileOption = mkOption {
    type = types.nullOr types.path;
    default = null;
    example = literalExpression "./secrets/host.yaml.age";
    description = ''
      The encrypted file of every `age.secrets.<name>` that does not set `file`,
      so that many secrets can take values (`format`, `key`) from one document.
    '';
  };

  # Options of one `age.secrets.<name>`. `system` = false drops owner/group and
  # the users phase (home-manager: everything belongs to the user).
  secretType =
    {
      secretsDir,
      secretsDirForUsers ? null,
      users ? { },
      system ? true,
      # `age.defaultFile`: every secret's `file` unless it sets its own.
      defaultFile ? null,
    }:
    types.submodule (
      { config, name, ... }:
      {
        options =
          {
            name = mkOption {
              type = types.str;
              default = name;
              defaultText = literalExpression "<attribute name>";
              description = ''
                File name of the secret inside the secrets directory. May contain
                slashes ("a/b/c") to create subdirectories.
              '';
            };
            file =
              mkOption {
                type = types.path;
                description = ''
                  The age-encrypted file. Use a path to a `.age` file in your
                  configuration (it is copied to the store, which is fine: it is
                  ciphertext) or a string naming a file in the store. Defaults to
                  `age.defaultFile` when that is set.
                '';
              }
              // lib.optionalAttrs (defaultFile != null) {
                default = defaultFile;
                defaultText = literalExpression "config.age.defaultFile";
              };
            format = mkOption {
              type = types.enum structuredFormats;
              default = "binary";
              example = "yaml";
              description = ''
                What the decrypted file is: `binary` (the whole file is the secret)
                or a `json`, `yaml`, `dotenv` or `ini` document, out of which `key`
                takes one value.
              '';
            };
            key = mkOption {
              type = types.str;
              default = "";
              example = "db.password";
              description = ''
                The value to install out of the document (see `format`): for JSON
                and YAML a path like `db.password` or `servers[0].token` (a dot
                inside a name is written `\.`: `"a\\.b"` in a Nix string), for
                dotenv the variable name, for INI `section.key`. Empty: the whole
                file.
              '';
            };
            path = mkOption {
              type = types.str;
              default =
                if system && config.neededForUsers then
                  "${toString secretsDirForUsers}/${config.name}"
                else
                  "${toString secretsDir}/${config.name}";
              defaultText =
                if system then
                  literalExpression ''if config.neededForUsers then "''${config.age.secretsDirForUsers}/''${config.name}" else "''${config.age.secretsDir}/''${config.name}"''
                else
                  literalExpression ''"''${config.age.secretsDir}/''${config.name}"'';
              description = ''
                Where the decrypted secret is made available. Anything other than the
                default gets a symlink (or, with `symlink = false`, a copy).
              '';
            };
            mode = mkOption {
              type = validate.modeType;
              default = "0400";
              description = ''
                Permission bits of the decrypted file, as chmod understands them: octal
                ("0440") or symbolic ("u=r,g=r", applied to a file created 0400).
              '';
            };
            symlink = mkOption {
              type = types.bool;
              default = true;
              example = false;
              description = ''
                Whether a custom `path` is a symlink into the secrets directory
                (true) or an atomically replaced copy (false). With the default
                `path` it has no effect (with a warning): the file is in the
                current generation, reached through the secrets directory.
              '';
            };
            restartUnits = unitListOption "restart";
            reloadUnits = unitListOption "reload (or restart when reload is unsupported)";
          }
          // lib.optionalAttrs system (
            ownershipOptions users config "decrypted"
          )
          // lib.optionalAttrs system {
            neededForUsers = mkOption {
              type = types.bool;
              default = false;
              description = ''
                Install this secret in a phase of its own before users and groups are
                created, so that it can be `users.users.<name>.hashedPasswordFile`
                where ordinary secrets are installed only after users exist:
                `age.installationMode = "systemd"`, systemd-sysusers, userborn. (With
                `installationMode = "activation"`, the default with the scripted users
                setup, every secret is installed before `users`, as with agenix, and
                this is not needed.) Such secrets are owned by root and live under
                `age.secretsDirForUsers`.
              '';
            };
          };
      }
    );

  templateType =
    {
      secretsDir,
      users ? { },
      system ? true,
    }:
    types.submodule (
      { config, name, ... }:
      {
        options =
          {
            name = mkOption {
              type = types.str;
              default = name;
              defaultText = literalExpression "<attribute name>";
              description = "File name of the rendered template under `<secretsDir>/rendered/`.";
            };
            content = mkOption {
              type = types.lines;
              example = literalExpression ''
                '''
                  DATABASE_URL=postgres://app:''${config.age.placeholder.db-password}@db/app
                '''
              '';
              description = ''
                Text of the file with placeholders (`config.age.placeholder.<secret>`)
                that are replaced by the decrypted secrets at install time. The text
                itself goes into the Nix store: put no secret in it.
              '';
            };
            path = mkOption {
              type = types.str;
              default = "${toString secretsDir}/rendered/${config.name}";
              defaultText = literalExpression ''"''${config.age.secretsDir}/rendered/''${name}"'';
              description = "Where the rendered file is made available.";
            };
            mode = mkOption {
              type = validate.modeType;
              default = "0400";
              description = "Permission bits of the rendered file.";
            };
            symlink = mkOption {
              type = types.bool;
              default = true;
              description = "Whether a custom `path` is a symlink (true) or a copy (false).";
            };
            restartUnits = unitListOption "restart";
            reloadUnits = unitListOption "reload";
          }
          // lib.optionalAttrs system (ownershipOptions users config "rendered");
      }
    );

  # Manifest v1. `file` stays what the user gave: a path value is copied to the
  # store by builtins.toJSON (ciphertext only), a string is passed as is.
  mkManifest =
    {
      cfg,
      system ? true,
      userMode ? false,
      filesystem,
      restartMode,
      secretsDirForUsers ? null,
      # userMode only. Written only when true: the installer's default is false.
      allowDiskBacked ? false,
    }:
    let
      # `option`: the option path, for the installer's messages (age.secrets.db.file).
      secretEntry =
        n: s:
        {
          option = "age.secrets.${lib.strings.escapeNixIdentifier n}";
          inherit (s)
            name
            file
            path
            mode
            symlink
            restartUnits
            reloadUnits
            ;
        }
        // lib.optionalAttrs system { inherit (s) owner group neededForUsers; }
        # Only when set, so a manifest without structured secrets is what it always was.
        // lib.optionalAttrs (s.format != "binary") { inherit (s) format; }
        // lib.optionalAttrs (s.key != "") { inherit (s) key; };
      templateEntry =
        n: t:
        {
          option = "age.templates.${lib.strings.escapeNixIdentifier n}";
          inherit (t)
            name
            content
            path
            mode
            symlink
            restartUnits
            reloadUnits
            ;
        }
        // lib.optionalAttrs system { inherit (t) owner group; };
    in
    {
      version = 1;
      # toString: secretsDir may be a path value (types.path, as agenix), which
      # toJSON would copy into the store.
      secretsDir = toString cfg.secretsDir;
      inherit (cfg) secretsMountPoint keepGenerations;
      inherit filesystem userMode restartMode;
      onFailure = if cfg.failClosed then "abort" else "keep-previous";
      # toString: never copy an identity into the store (assertions reject
      # path literals anyway).
      identityPaths = map toString cfg.identityPaths;
      hostPublicKeys = cfg.hostPublicKeys;
      secrets = mapAttrs secretEntry cfg.secrets;
      templates = mapAttrs templateEntry cfg.templates;
    }
    // lib.optionalAttrs (cfg.plugins != [ ]) {
      pluginPath = map (p: "${lib.getBin p}/bin") cfg.plugins;
    }
    // lib.optionalAttrs (secretsDirForUsers != null) { secretsDirForUsers = toString secretsDirForUsers; }
    // lib.optionalAttrs allowDiskBacked { allowDiskBacked = true; };

  # The build-time `install --check` does not run (validateManifest = false, or a
  # cross build, which cannot run the package): say what is then not checked. Names,
  # paths, modes, owners, groups and units are checked at evaluation regardless.
  skippedCheckWarnings =
    {
      cfg,
      pkgs,
      canCheck,
    }:
    let
      has = cfg.secrets != { } || cfg.templates != { };
      notChecked = "that each age.secrets.<name>.file exists and is an age file${
        lib.optionalString (cfg.hostPublicKeys or [ ] != [ ]) ", and is encrypted to one of age.hostPublicKeys"
      }, is not checked before the switch: a mistake there shows only when the secrets are installed (names, paths, modes, owners, groups and unit names are still checked at evaluation)";
    in
    lib.optional (has && !cfg.validateManifest) "age.validateManifest = false: ${notChecked}."
    ++ lib.optional (has && cfg.validateManifest && !canCheck)
      "age: this is a cross build (${pkgs.stdenv.buildPlatform.system or "the build platform"} cannot run programs for ${pkgs.stdenv.hostPlatform.system}), so the build cannot run secrets install --check: ${notChecked}.";

  isStorePath = p: lib.hasPrefix "${builtins.storeDir}/" (toString p);

  # Placeholders found in a template's text.
  placeholdersIn =
    text:
    concatLists (
      builtins.filter builtins.isList (builtins.split "(<SECRET:[0-9a-f]{64}:PLACEHOLDER>)" text)
    );

  # Assertions and warnings common to every platform. `userMode`: home-manager's
  # paths may start with $HOME or $XDG_RUNTIME_DIR.
  checks = checksFor false;
  checksFor =
    userMode: cfg:
    let
      known = lib.listToAttrs (
        mapAttrsToList (n: _: lib.nameValuePair (placeholderFor n) n) cfg.secrets
      );
      templateAssertions = mapAttrsToList (
        n: t:
        let
          found = placeholdersIn t.content;
          unknown = builtins.filter (p: !(known ? ${p})) found;
        in
        {
          assertion = found != [ ] && unknown == [ ];
          message =
            if found == [ ] then
              "age.templates.${n}: content contains no placeholder; use \${config.age.placeholder.<secret>} (or put non-secret text in environment.etc instead)."
            else
              "age.templates.${n}: content has placeholders of secrets that are not defined in age.secrets: ${toString unknown}.";
        }
      ) cfg.templates;
      identityAssertions = map (p: {
        assertion = !(builtins.isPath p) && !(isStorePath p);
        message = ''age.identityPaths: "${toString p}" ${
          if builtins.isPath p then "is a Nix path literal" else "is in the Nix store"
        }; the private key would be copied into the world-readable Nix store. Use a string naming the key on the host, e.g. "/etc/ssh/ssh_host_ed25519_key".'';
      }) cfg.identityPaths;
      # agenix accepts symlink = false with the default path (its copy is lost at the next
      # switch, when the secrets directory link is replaced). Here the file simply stays
      # in the generation, reached through the secrets directory: accepted, with a warning.
      stableDirOf = s: if s.neededForUsers or false then cfg.secretsDirForUsers else cfg.secretsDir;
      symlinkWarnings = mapAttrsToList (
        n: s:
        "age.secrets.${n}.symlink = false has no effect with the default path (${s.path}): the file is in the current generation of decrypted secrets, reached through ${stableDirOf s}, which is itself the link switched on every activation, so there is no separate copy to make. Remove symlink = false, or set age.secrets.${n}.path outside ${stableDirOf s} to get a copy there."
      ) (filterAttrs (_: s: !s.symlink && s.path == "${stableDirOf s}/${s.name}") cfg.secrets);
      hasSecrets = cfg.secrets != { } || cfg.templates != { };
      # The installer refuses these too, but only at activation.
      keyAssertions = mapAttrsToList (n: s: {
        assertion = s.format != "binary" || s.key == "";
        message = "age.secrets.${n}.key = \"${s.key}\": a binary secret is the whole file and takes no key; set age.secrets.${n}.format to the document's format (json, yaml, dotenv or ini).";
      }) cfg.secrets;
    in
    {
      assertions =
        [
          {
            assertion = !hasSecrets || cfg.identityPaths != [ ];
            message = "age.identityPaths must be set (for example by enabling services.openssh, whose host keys are used by default): secrets cannot be decrypted without an identity.";
          }
        ]
        ++ identityAssertions
        ++ templateAssertions
        ++ validate.itemAssertions {
          inherit (cfg) secrets templates;
          inherit userMode;
        }
        ++ keyAssertions;
      warnings =
        symlinkWarnings
        ++ mapAttrsToList (
        n: s:
        "age.secrets.${n}.file = ${toString s.file}: this file does not end in .age and will be copied into the Nix store; make sure it is encrypted (a plaintext there is world-readable)."
      ) (filterAttrs (_: s: builtins.isPath s.file && !lib.hasSuffix ".age" (toString s.file)) cfg.secrets);
    };
}
