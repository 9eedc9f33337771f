# home-manager module: agenix-compatible `age.*` options for one user. A user
# systemd service (launchd agent on macOS) runs `secrets install` in userMode:
# no mount, no chown, everything under the user's runtime directory.
#
# Paths: the default secretsDir is "${XDG_RUNTIME_DIR}/agenix", as with agenix.
# The installer expands a leading $XDG_RUNTIME_DIR / ${XDG_RUNTIME_DIR} / $HOME /
# ${HOME} / ~ at run time, so `config.age.secrets.<name>.path` works wherever the
# consumer expands variables too (shell, systemd's Exec lines). Programs that
# read a path literally need a literal directory: set `age.runtimeDir` (e.g.
# "/run/user/1000" when the uid is fixed) and every default path becomes literal.
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
    types
    literalExpression
    ;
  shared = import ./shared.nix { inherit lib; };
  cfg = config.age;
  inherit (pkgs.stdenv.hostPlatform) isDarwin isLinux;

  # agenix's home-manager module used `age.package` for the age binary. An
  # agenix configuration setting it must keep evaluating, so a package that is
  # not ours is ignored (with a warning) in favour of the default.
  defaultPackage = pkgs.secrets or (pkgs.callPackage ../package.nix { });
  packageIsOurs = lib.getName cfg.package == "secrets";
  package = if packageIsOurs then cfg.package else defaultPackage;

  manifest = shared.mkManifest {
    inherit cfg;
    system = false;
    userMode = true;
    filesystem = "tmpfs"; # ignored in userMode: nothing is mounted
    restartMode = if isLinux then "systemctl" else "none";
    inherit (cfg) allowDiskBacked;
    # Never used (home-manager has no neededForUsers), but the installer looks
    # at this link to decide whether a users phase is due. Left at the manifest
    # default it would be the NixOS module's /run/agenix-for-users, and on a
    # host with password secrets the user's run would try (and fail) to switch
    # that root-owned link.
    secretsDirForUsers = "${cfg.secretsDir}-for-users";
  };
  manifestFile = pkgs.writeText "agenix-home-manifest.json" (builtins.toJSON manifest);
  canCheck = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
  # The build sandbox has no XDG_RUNTIME_DIR, and the installer refuses to
  # expand an unset variable, so the check gets a stand-in (any absolute
  # directory does: only the shape of the paths is checked) and the real home
  # directory for `~`/$HOME.
  checkedManifest =
    if cfg.validateManifest && canCheck then
      pkgs.runCommand "agenix-home-manifest-checked.json"
        {
          XDG_RUNTIME_DIR = "/run/user/build-check";
          HOME = config.home.homeDirectory;
        }
        ''
          ${package}/bin/secrets install --check --manifest ${manifestFile}
          cp ${manifestFile} "$out"
        ''
    else
      manifestFile;

  installCommand = "${package}/bin/secrets install --manifest ${checkedManifest}";

  # launchd has no XDG_RUNTIME_DIR; point it at the per-user temporary
  # directory, as agenix does.
  darwinLauncher = pkgs.writeShellScript "agenix-home-install" ''
    export XDG_RUNTIME_DIR="''${XDG_RUNTIME_DIR:-$(/usr/bin/getconf DARWIN_USER_TEMP_DIR)}"
    exec ${installCommand}
  '';
in
{
  options.age = {
    package = mkOption {
      type = types.package;
      default = defaultPackage;
      defaultText = literalExpression "pkgs.secrets or (pkgs.callPackage ./nix/package.nix { })";
      description = ''
        The `secrets` package. (In agenix's home-manager module this option named
        the age binary; such a setting is ignored with a warning.)
      '';
    };
    secrets = mkOption {
      type = types.attrsOf (
        shared.secretType {
          inherit (cfg) secretsDir defaultFile;
          system = false;
        }
      );
      default = { };
      description = "Attribute set of secrets.";
    };
    templates = mkOption {
      type = types.attrsOf (
        shared.templateType {
          inherit (cfg) secretsDir;
          system = false;
        }
      );
      default = { };
      description = "Files rendered from non-secret text with secrets substituted for placeholders.";
    };
    placeholder = shared.placeholderOption cfg.secrets;
    plugins = shared.pluginsOption;
    defaultFile = shared.defaultFileOption;
    identityPaths = mkOption {
      type = types.listOf types.path;
      default = [
        "${config.home.homeDirectory}/.ssh/id_ed25519"
        "${config.home.homeDirectory}/.ssh/id_rsa"
      ];
      defaultText = literalExpression ''
        [
          "''${config.home.homeDirectory}/.ssh/id_ed25519"
          "''${config.home.homeDirectory}/.ssh/id_rsa"
        ]
      '';
      description = "Private keys tried for decryption (strings, not Nix paths).";
    };
    runtimeDir = mkOption {
      type = types.str;
      default = "\${XDG_RUNTIME_DIR}";
      example = "/run/user/1000";
      description = ''
        Base of the default `secretsDir`/`secretsMountPoint`. The default is
        expanded by the installer at run time; set a literal directory when
        other options need literal paths.
      '';
    };
    secretsDir = mkOption {
      type = types.str;
      default = "${cfg.runtimeDir}/agenix";
      defaultText = literalExpression ''"''${config.age.runtimeDir}/agenix"'';
      description = "Stable symlink to the current generation of decrypted secrets.";
    };
    secretsMountPoint = mkOption {
      # Untyped in agenix's home-manager module: a trailing slash is dropped
      # rather than refused, so such configurations keep evaluating.
      type = types.str;
      apply = lib.removeSuffix "/";
      default = "${cfg.runtimeDir}/agenix.d";
      defaultText = literalExpression ''"''${config.age.runtimeDir}/agenix.d"'';
      description = "Directory holding the generations (not a mount in user mode).";
    };
    keepGenerations = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many generations to keep, including the current one.";
    };
    failClosed = mkOption {
      type = types.bool;
      default = false;
      description = "Do not switch to a new generation when any secret fails to decrypt.";
    };
    hostPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = ''
        Public keys of the identities; when set, the build fails if a secret is not
        encrypted to any of them.
      '';
    };
    validateManifest = mkOption {
      type = types.bool;
      default = true;
      description = "Run `secrets install --check` on the manifest at build time.";
    };
    allowDiskBacked = mkOption {
      type = types.bool;
      # macOS has no RAM-backed per-user directory: its default paths are on
      # disk (as with agenix), and refusing them would break every migration.
      default = isDarwin;
      defaultText = literalExpression "pkgs.stdenv.hostPlatform.isDarwin";
      example = true;
      description = ''
        Accept a `secretsMountPoint` that is not on a RAM-backed file system
        (tmpfs or ramfs on Linux, tmpfs on macOS), so that the decrypted
        secrets are written to disk. Without it the installer refuses such a
        mount point before writing anything. Defaults to true on macOS, whose
        default paths (the per-user temporary directory) are on disk, as they
        are with agenix; set it to false there to require a tmpfs. On Linux it
        is only for machines whose `$XDG_RUNTIME_DIR` is not a tmpfs.
      '';
    };
    manifest = mkOption {
      type = types.attrs;
      internal = true;
      readOnly = true;
      default = manifest;
      description = "The manifest given to the installer.";
    };
    manifestFile = mkOption {
      type = types.unspecified;
      internal = true;
      readOnly = true;
      default = checkedManifest;
      description = "The (validated) manifest file in the store.";
    };
  };

  # Defined even without secrets: the installer then does nothing for a user who
  # never had any, and switches to an empty generation (removing the previous
  # one's plaintext) for a user whose last secret was just removed.
  config = {
    assertions = (shared.checksFor true cfg).assertions;
    warnings =
      (shared.checksFor true cfg).warnings
      ++ shared.skippedCheckWarnings { inherit cfg pkgs canCheck; }
      ++ lib.optional (!packageIsOurs)
        "age.package = ${lib.getName cfg.package}: this option now selects the secrets package (agenix used it for the age binary); the setting is ignored."
      # Known at evaluation: a mount point outside the runtime directory (a
      # tmpfs) is refused by the installer at run time, leaving no secrets.
      ++ lib.optional (
        isLinux
        && !cfg.allowDiskBacked
        && !lib.any (dir: lib.hasPrefix "${dir}/" cfg.secretsMountPoint) [
          cfg.runtimeDir
          "\${XDG_RUNTIME_DIR}"
          "$XDG_RUNTIME_DIR"
          "/run/user"
          "/dev/shm"
        ]
      ) "age.secretsMountPoint = ${cfg.secretsMountPoint} is not under $XDG_RUNTIME_DIR: if it is on disk the installer refuses it (decrypted secrets would be written to disk) and installs nothing; set age.allowDiskBacked = true to accept that, or keep the default.";

    systemd.user.services.agenix = mkIf isLinux {
      Unit = {
        Description = "Decrypt age secrets";
        # sd-switch restarts the unit when the manifest changes.
        X-Restart-Triggers = [ "${checkedManifest}" ];
      };
      Service = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = installCommand;
      };
      Install.WantedBy = [ "default.target" ];
    };

    # Untested: no macOS machine in CI.
    launchd.agents.activate-agenix = mkIf isDarwin {
      enable = true;
      config = {
        ProgramArguments = [ "${darwinLauncher}" ];
        KeepAlive = {
          Crashed = false;
          SuccessfulExit = false;
        };
        RunAtLoad = true;
        ProcessType = "Background";
        StandardOutPath = "${config.home.homeDirectory}/Library/Logs/agenix/stdout";
        StandardErrorPath = "${config.home.homeDirectory}/Library/Logs/agenix/stderr";
      };
    };
  };
}
