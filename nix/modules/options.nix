# The system-level `age.*` options, shared by the NixOS and nix-darwin modules
# (agenix's names, types and defaults, plus this project's additions).
# Usage: imports = [ (import ./options.nix { isDarwin = false; }) ];
{ isDarwin }:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;
  shared = import ./shared.nix { inherit lib; };
  cfg = config.age;
  sysusersEnabled = shared.sysusersEnabled config;
  nixosInit = shared.nixosInit config;
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
        `age.package` (age plugins go in `age.plugins`). Setting it produces a
        warning.
      '';
    };
    secrets = mkOption {
      type = types.attrsOf (
        shared.secretType {
          inherit (cfg) secretsDir secretsDirForUsers defaultFile;
          users = config.users.users;
        }
      );
      default = { };
      example = literalExpression ''
        {
          db-password = {
            file = ./secrets/db-password.age;
            owner = "postgres";
            restartUnits = [ "postgresql.service" ];
          };
          root-password = {
            file = ./secrets/root-password.age;
            neededForUsers = true;
          };
        }
      '';
      description = ''
        Attribute set of secrets: each is decrypted at activation (or by the
        installer unit) into `age.secretsDir`, and its path is
        `config.age.secrets.<name>.path`.
      '';
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
        if isDarwin then
          [
            "/etc/ssh/ssh_host_ed25519_key"
            "/etc/ssh/ssh_host_rsa_key"
          ]
        else if config.services.openssh.enable or false then
          map (e: e.path) (
            builtins.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys
          )
        else
          [ ];
      defaultText =
        if isDarwin then
          literalExpression ''[ "/etc/ssh/ssh_host_ed25519_key" "/etc/ssh/ssh_host_rsa_key" ]''
        else
          literalExpression ''
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
      # The overlay's package if present, else built with the system's nixpkgs.
      default = pkgs.secrets or (pkgs.callPackage ../package.nix { });
      defaultText = literalExpression "pkgs.secrets or (pkgs.callPackage ./nix/package.nix { })";
      description = "The `secrets` package whose installer decrypts the secrets.";
    };
    plugins = shared.pluginsOption;
    defaultFile = shared.defaultFileOption;
    secretsDirForUsers = mkOption {
      # As secretsDir (agenix's type): an absolute path, kept a string in the manifest.
      type = types.path;
      default = "/run/agenix-for-users";
      description = "Stable symlink to the secrets marked `neededForUsers`.";
    };
    keepGenerations = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many generations of decrypted secrets to keep, including the current one.";
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
        (it cannot run when cross-compiling). It reads the files: each `file`
        exists and is an age file, and is encrypted to one of
        `age.hostPublicKeys` when those are set. Names, paths, modes, owners,
        groups and unit names are checked at evaluation whatever this says;
        turning it off (or cross-compiling) gives a warning naming what is no
        longer checked.
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
    placeholder = shared.placeholderOption cfg.secrets;
    manifest = mkOption {
      type = types.attrs;
      internal = true;
      readOnly = true;
      description = "The manifest given to the installer (set by the platform module; for tests and debugging).";
    };
    manifestFile = mkOption {
      type = types.unspecified;
      internal = true;
      readOnly = true;
      description = "The (validated) manifest file in the store.";
    };
  }
  // lib.optionalAttrs (!isDarwin) {
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
    installationMode = mkOption {
      type = types.enum [
        "activation"
        "systemd"
      ];
      default = if sysusersEnabled || nixosInit then "systemd" else "activation";
      defaultText = literalExpression ''
        if config.systemd.sysusers.enable || config.services.userborn.enable || config.system.nixos-init.enable
        then "systemd" else "activation"
      '';
      description = ''
        `activation`: activation scripts, in agenix's order: `agenixInstall`
        (before the `users` script) installs every secret and template, owned
        by root with owner bits only (`mode & 0700`), so that a password file
        (`users.users.<name>.hashedPasswordFile`) can be any secret, as with
        agenix; `agenixChown` (after `users` and `groups`) gives them their
        owners, groups and modes and restarts their units; `agenix` comes
        after it. `systemd`: oneshot units ordered before `sysinit.target` and
        re-run on switch; users exist before the main unit runs, so a password
        file must be a `neededForUsers` secret (installed before
        systemd-sysusers/userborn or, with the scripted users setup, by the
        `agenixInstall` activation script).
      '';
    };
    restartMode = mkOption {
      type = types.enum [
        "systemctl"
        "activation-list"
        "none"
      ];
      # NixOS 26.05 deprecated the activation lists (a warning on every
      # switch) and announced their removal for 26.11; systemctl works from
      # activation scripts and units alike.
      default = "systemctl";
      description = ''
        How `restartUnits`/`reloadUnits` are acted on. `systemctl`: `systemctl
        --no-block try-restart`/`try-reload-or-restart`, so units that are not
        running are left alone. `activation-list`: the lists
        switch-to-configuration reads before NixOS 26.11 (deprecated by NixOS;
        activation mode only), which act on a listed unit as on a changed one: a
        stopped unit is started, `restartIfChanged = false` is honoured. `none`:
        not at all.
      '';
    };
  };
}
