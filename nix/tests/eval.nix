# Evaluates nix/modules/nixos.nix against the test stub (nix/tests/nixos-stub.nix)
# with nothing but nixpkgs' lib, for a set of named configurations (the hm* and
# darwin* ones: home-manager.nix and darwin.nix against their stubs). Used by
# tests/nix_module/; also handy by hand:
#
#   NIX_PATH=nixpkgs=/path/to/nixpkgs-or-nixpkgs.lib \
#     nix-instantiate --eval --strict --json nix/tests/eval.nix -A plain.manifest
#
# `<nixpkgs/lib>` must resolve: a full nixpkgs checkout or a nixpkgs.lib
# checkout (both have lib/default.nix at the top).
#
# `--arg module ./my-config.nix -A custom.manifest` evaluates any other
# configuration (used for end-to-end runs, see tests/nix_e2e.rs); `hmCustom`
# and `darwinCustom` do the same with the home-manager and nix-darwin modules.
{
  lib ? import <nixpkgs/lib>,
  module ? { },
}:
let
  eval = evalOn lib;
  # The NixOS module on a nixpkgs whose lib says it is release `release`
  # (lib.trivial.release is how NixOS knows its own release).
  evalRelease =
    release:
    evalOn (
      lib.extend (
        _: prev: {
          inherit release;
          trivial = prev.trivial // {
            inherit release;
          };
        }
      )
    );
  evalOn =
    lib: cfgModule:
    let
      evaluated = lib.evalModules {
        modules = [
          ./nixos-stub.nix
          ../modules/nixos.nix
          cfgModule
          # NixOS's option, not in the stub (flake-outputs.nix declares its own).
          {
            options.users.mutableUsers = lib.mkOption {
              type = lib.types.bool;
              default = true;
            };
          }
        ];
      };
      inherit (evaluated) config;
      units = lib.mapAttrs (_: u: {
        inherit (u)
          wantedBy
          requiredBy
          before
          after
          conflicts
          unitConfig
          ;
        restartTriggers = map toString u.restartTriggers;
        serviceConfig = lib.mapAttrs (_: toString) u.serviceConfig;
      }) (lib.filterAttrs (n: _: lib.hasPrefix "agenix" n) config.systemd.services);
    in
    {
      # Each field is evaluated on its own by the tests (-A case.field), so a
      # failing assertion does not prevent reading the messages.
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
      inherit (config) warnings;
      manifest = config.age.manifest;
      manifestFile = toString config.age.manifestFile;
      checkCommand = config.age.manifestFile.buildCommand or null;
      placeholder = config.age.placeholder;
      activationOrder = config.stub.activationOrder;
      activationScript = config.stub.activationScript;
      activationScripts = lib.mapAttrs (
        _: v: if builtins.isString v then v else v.text
      ) config.system.activationScripts;
      # Declared dependencies: the order above alone would not prove them
      # (textClosureList also follows attribute-name order).
      activationDeps = lib.mapAttrs (
        _: v: if builtins.isString v then [ ] else v.deps
      ) config.system.activationScripts;
      inherit units;
      users = lib.mapAttrs (_: u: { inherit (u) hashedPasswordFile; }) config.users.users;
      package = {
        inherit (config.age.package) name;
        doCheck = config.age.package.doCheck or null;
        mainProgram = config.age.package.meta.mainProgram or null;
      };
      # The declared age.* options (visible ones), with their defaults as Nix text
      # where they have a plain default, for the README's options reference.
      declared =
        let
          describe = lib.mapAttrs (
            _: o: {
              type = o.type.description;
              default =
                if o ? defaultText then
                  null
                else if o ? default then
                  lib.generators.toPretty { multiline = false; } o.default
                else
                  null;
            }
          );
          visible = lib.filterAttrs (
            _: o: lib.isOption o && (o.visible or true) != false && !(o.internal or false)
          );
        in
        {
          top = describe (visible evaluated.options.age);
          secret = describe (visible (evaluated.options.age.secrets.type.getSubOptions [ ]));
          template = describe (visible (evaluated.options.age.templates.type.getSubOptions [ ]));
        };
      # Forces every option's value (types checked), for the cases that must fail.
      allValues = builtins.deepSeq [
        config.systemd.services
        config.users
        config.age.secrets
        config.age.templates
      ] true;
    };

  # home-manager and nix-darwin modules, each against its own stub.
  evalWith =
    stub: platformModule: cfgModule:
    let
      inherit
        (lib.evalModules {
          modules = [
            stub
            platformModule
            cfgModule
          ];
        })
        config
        ;
    in
    {
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
      inherit (config) warnings;
      manifest = config.age.manifest;
      manifestFile = toString config.age.manifestFile;
      checkCommand = config.age.manifestFile.buildCommand or null;
      checkEnv = config.age.manifestFile.env or null;
      secretPaths = lib.mapAttrs (_: s: s.path) config.age.secrets;
      userUnits = lib.mapAttrs (_: u: {
        ExecStart = u.Service.ExecStart;
        RestartTriggers = u.Unit.X-Restart-Triggers;
        inherit (u.Service) Type;
        WantedBy = u.Install.WantedBy;
      }) (config.systemd.user.services or { });
      launchd = lib.mapAttrs (_: d: d.script or (toString d.config.ProgramArguments)) (
        (config.launchd.daemons or { }) // (config.launchd.agents or { })
      );
    };
  hm = evalWith ./hm-stub.nix ../modules/home-manager.nix;
  darwin = evalWith ./darwin-stub.nix ../modules/darwin.nix;

  # A build machine that cannot run the host's programs.
  crossPkgs =
    let
      pkgs = import ./stub-pkgs.nix { };
    in
    pkgs
    // {
      stdenv = pkgs.stdenv // {
        buildPlatform = {
          system = "x86_64-linux";
          canExecute = _: false;
        };
        hostPlatform = pkgs.stdenv.hostPlatform // {
          system = "aarch64-linux";
        };
      };
    };

  # Strings, not path literals, for `file`: nothing is copied to the store.
  f = name: "/var/lib/test-secrets/${name}.age";
in
lib.mapAttrs (_: eval) {
  # The module imported on a host without secrets.
  nosecrets = { };

  # An agenix configuration, unchanged.
  plain = {
    services.openssh.enable = true;
    # As NixOS's postgresql module declares it.
    users.users.postgres = {
      isSystemUser = true;
      group = "postgres";
    };
    users.groups.postgres = { };
    age.secrets.db = {
      file = f "db";
      owner = "postgres";
    };
    age.secrets.custom = {
      file = f "custom";
      path = "/var/lib/app/token";
      mode = "0440";
      group = "wheel";
    };
    age.secrets.copied = {
      file = f "copied";
      path = "/etc/app/key";
      symlink = false;
    };
    age.secrets.nested.name = "app/nested/conf";
    age.secrets.nested.file = f "nested";
  };

  # agenix's renamed option still works (with NixOS's rename warning).
  legacy = {
    age.sshKeyPaths = [ "/etc/ssh/legacy_key" ];
    age.secrets.a.file = f "a";
  };

  restart =
    { pkgs, ... }:
    {
      age.plugins = [ pkgs.age ];
      age.identityPaths = [ "/persist/ssh/key" ];
      age.secrets.tls = {
        file = f "tls";
        restartUnits = [ "nginx.service" ];
        reloadUnits = [
          "haproxy.service"
          "caddy.service"
        ];
      };
      age.failClosed = true;
      age.keepGenerations = 3;
      age.filesystem = "ramfs";
      age.hostPublicKeys = [ "ssh-ed25519 AAAAtest host" ];
    };

  templates =
    { config, ... }:
    {
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.db-password.file = f "db-password";
      age.templates."app.env" = {
        content = ''
          DB_USER=app
          DB_PASSWORD=${config.age.placeholder.db-password}
        '';
        owner = "app";
        restartUnits = [ "app.service" ];
      };
      users.users.app = {
        isSystemUser = true;
        group = "appgroup";
      };
      users.groups.appgroup = { };
    };

  # Password secret, activation scripts.
  password =
    { config, ... }:
    {
      services.openssh.enable = true;
      age.secrets.alice-password = {
        file = f "alice-password";
        neededForUsers = true;
      };
      age.secrets.other.file = f "other";
      users.users.alice = {
        isNormalUser = true;
        hashedPasswordFile = config.age.secrets.alice-password.path;
      };
    };

  sysusers =
    { config, ... }:
    {
      systemd.sysusers.enable = true;
      services.openssh.enable = true;
      age.secrets.alice-password = {
        file = f "alice-password";
        neededForUsers = true;
      };
      age.secrets.svc = {
        file = f "svc";
        owner = "svc";
        restartUnits = [ "svc.service" ];
      };
      # systemd-sysusers creates system users only (NixOS asserts it).
      users.users.alice = {
        isSystemUser = true;
        group = "users";
        hashedPasswordFile = config.age.secrets.alice-password.path;
      };
    };

  userborn = {
    services.userborn.enable = true;
    age.identityPaths = [ "/persist/ssh/ssh_host_ed25519_key" ];
    age.secrets.svc.file = f "svc";
  };

  # nixos-init runs no activation scripts: units by default. NixOS requires
  # systemd in the initrd, the /etc overlay and sysusers or userborn with it.
  nixosInit = {
    system.nixos-init.enable = true;
    boot.initrd.systemd.enable = true;
    system.etc.overlay.enable = true;
    services.userborn.enable = true;
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.svc.file = f "svc";
  };

  # Units for the main phase while users are still made by the activation script.
  systemdScripted = {
    age.installationMode = "systemd";
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.root-password = {
      file = f "root-password";
      neededForUsers = true;
    };
    age.secrets.svc.file = f "svc";
  };

  # agenix's README configurations together, unchanged (issue 14): a password file from an
  # ordinary secret, symlink = false with the default and with a custom path, a custom
  # path, mode/owner/group, name, identityPaths, secretsDir and secretsMountPoint.
  agenixReadme =
    { config, ... }:
    {
      age.identityPaths = [ "/var/lib/persistent/ssh_host_ed25519_key" ];
      age.secretsDir = "/run/keys/agenix";
      age.secretsMountPoint = "/run/keys/agenix.d";
      users.users.user1 = {
        isNormalUser = true;
        hashedPasswordFile = config.age.secrets.secret1.path;
      };
      # As NixOS's nix-daemon module declares its build users.
      users.users.nixbld1 = {
        isSystemUser = true;
        group = "nixbld";
      };
      age.secrets.secret1.file = f "secret1";
      age.secrets.nixAccessTokens = {
        file = f "nixAccessTokens";
        mode = "770";
        owner = "nixbld1";
        group = "nixbld";
      };
      age.secrets.monitrc = {
        file = f "monitrc";
        path = "/etc/monitrc";
        mode = "0600";
        owner = "root";
        group = "root";
        symlink = false;
      };
      age.secrets.inPlace = {
        file = f "inPlace";
        symlink = false;
      };
      age.secrets.linked = {
        file = f "linked";
        path = "/var/lib/app/token";
      };
      age.secrets.renamed = {
        file = f "renamed";
        name = "renamed.txt";
      };
    };

  # Where a password file from an ordinary secret truly cannot work: users exist before
  # the main unit runs.
  passwordSystemdScripted =
    { config, ... }:
    {
      age.installationMode = "systemd";
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.pw.file = f "pw";
      users.users.alice = {
        isNormalUser = true;
        hashedPasswordFile = config.age.secrets.pw.path;
      };
    };
  passwordSysusers =
    { config, ... }:
    {
      systemd.sysusers.enable = true;
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.pw.file = f "pw";
      users.users.alice = {
        isSystemUser = true;
        group = "users";
        hashedPasswordFile = config.age.secrets.pw.path;
      };
    };
  passwordTemplateSystemd =
    { config, ... }:
    {
      age.installationMode = "systemd";
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.pw.file = f "pw";
      age.templates.hash.content = config.age.placeholder.pw;
      users.users.alice = {
        isNormalUser = true;
        hashedPasswordFile = config.age.templates.hash.path;
      };
    };

  # --- configurations that must be rejected or warned about ---
  noIdentity = {
    age.secrets.a.file = f "a";
  };
  symlinkFalseDefaultPath = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a = {
      file = f "a";
      symlink = false;
    };
  };
  usersSecretNotRoot = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.pw = {
      file = f "pw";
      neededForUsers = true;
      owner = "alice";
    };
  };
  # agenix's documented password example, unchanged: accepted in activation mode,
  # where every secret is installed before `users` reads it.
  passwordNotNeededForUsers =
    { config, ... }:
    {
      services.openssh.enable = true;
      age.secrets.passwordfile-ryantm.file = f "pw";
      users.users.ryantm = {
        isNormalUser = true;
        hashedPasswordFile = config.age.secrets.passwordfile-ryantm.path;
      };
      users.users.former = {
        isNormalUser = true;
        enable = false;
        hashedPasswordFile = config.age.secrets.passwordfile-ryantm.path;
      };
    };
  # A path literal (an existing file, so the type check passes); toString
  # in the test does not copy it anywhere.
  identityPathLiteral = {
    age.identityPaths = [ ./nixos-stub.nix ];
    age.secrets.a.file = f "a";
  };
  identityInStore = {
    age.identityPaths = [ "${builtins.storeDir}/00000000000000000000000000000000-key" ];
    age.secrets.a.file = f "a";
  };
  plaintextFile = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = ./nixos-stub.nix;
  };
  ageBinSet = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.ageBin = "/run/current-system/sw/bin/rage";
    age.secrets.a.file = f "a";
  };
  templateWithoutPlaceholder = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
    age.templates.t.content = "no secret here\n";
  };
  templateUnknownPlaceholder = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
    age.templates.t.content = "x=<SECRET:${builtins.hashString "sha256" "missing"}:PLACEHOLDER>\n";
  };
  activationWithSysusers = {
    systemd.sysusers.enable = true;
    age.installationMode = "activation";
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
  };
  activationWithNixosInit = {
    system.nixos-init.enable = true;
    boot.initrd.systemd.enable = true;
    system.etc.overlay.enable = true;
    systemd.sysusers.enable = true;
    age.installationMode = "activation";
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
  };
  activationListFromUnit = {
    age.installationMode = "systemd";
    age.restartMode = "activation-list";
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
  };

  # ---- the stub is as strict as NixOS: configurations NixOS rejects ----
  # A user that is neither a normal nor a system user, one without a group, one whose
  # group is not declared; a normal user with systemd-sysusers; nixos-init with the
  # scripted users setup (and no systemd initrd or /etc overlay).
  stubUserKindUnset = {
    users.users.svc.group = "svc";
    users.groups.svc = { };
  };
  stubUserGroupUnset = {
    users.users.svc.isSystemUser = true;
  };
  stubUserGroupUndeclared = {
    users.users.svc = {
      isSystemUser = true;
      group = "svc";
    };
  };
  stubSysusersNormalUser = {
    systemd.sysusers.enable = true;
    users.users.alice.isNormalUser = true;
  };
  nixosInitScriptedUsers = {
    system.nixos-init.enable = true;
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.svc.file = f "svc";
  };
  # Evaluation errors (types): a unit name without a type, a Type systemd does not
  # know, an option NixOS does not have.
  stubBadUnitName = {
    systemd.services.app.after = [ "network" ];
  };
  stubBadServiceType = {
    systemd.services.app.serviceConfig.Type = "one-shot";
  };
  stubUnknownUnitOption = {
    systemd.services.app.wantedby = [ "multi-user.target" ];
  };

  # No overlay: age.package is nix/package.nix built with the system's nixpkgs (the
  # stub nixpkgs package set of the flake tests, without `secrets`).
  defaultPackage =
    { lib, ... }:
    {
      _module.args.pkgs = lib.mkForce (
        removeAttrs (import ./stub-nixpkgs/pkgs.nix {
          inherit lib;
          system = "x86_64-linux";
          base = import ./stub-pkgs.nix { };
        }) [ "secrets" ]
      );
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.a.file = f "a";
    };

  # ---- mistakes caught at evaluation, naming the option ----
  badRestartUnit = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.db = {
      file = f "db";
      restartUnits = [ "postgresql" ];
    };
  };
  badReloadUnit = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.templates.conf = {
      content = "x";
      reloadUnits = [ "nginx service" ];
    };
  };
  badMode = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.db = {
      file = f "db";
      mode = "4755";
    };
  };
  badSymbolicMode = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.db = {
      file = f "db";
      mode = "u=rw,g+s";
    };
  };
  badOwner = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.db = {
      file = f "db";
      owner = "-postgres";
    };
  };
  badGroup = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.db = {
      file = f "db";
      group = "4294967295";
    };
  };
  # Every problem at once: each assertion names its option.
  badNamesAndPaths = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.up = {
      file = f "up";
      name = "../etc/shadow";
    };
    age.secrets.abs = {
      file = f "abs";
      name = "/etc/shadow";
    };
    age.secrets.state = {
      file = f "state";
      name = ".secrets-install.json";
    };
    age.secrets.rel = {
      file = f "rel";
      path = "var/lib/app/token";
    };
    age.secrets.dotdot = {
      file = f "dotdot";
      path = "/var/lib/../../etc/passwd";
    };
    # A zero-width space: prints as "dbpassword".
    age.secrets.zw = {
      file = f "zw";
      name = builtins.fromJSON ''"db​password"'';
    };
    age.templates.t = {
      content = "x";
      name = "a//b";
    };
  };
  ageBinNoSecrets = {
    age.ageBin = "/run/current-system/sw/bin/rage";
  };
  noValidation = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.validateManifest = false;
    age.hostPublicKeys = [ "ssh-ed25519 AAAAtest host" ];
    age.secrets.a.file = f "a";
  };
  crossBuild = {
    _module.args.pkgs = lib.mkForce crossPkgs;
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
  };
  # Without the build-time check, evaluation still checks.
  crossBuildBadMode = {
    _module.args.pkgs = lib.mkForce crossPkgs;
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a = {
      file = f "a";
      mode = "0999";
    };
  };
  noValidationBadName = {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.validateManifest = false;
    age.secrets.a = {
      file = f "a";
      name = "../a";
    };
  };

  custom = module;
}
// {
  # Older NixOS (lib.trivial.release): the oldest supported release, and the
  # combination of NixOS 24.05/24.11 that cannot work.
  release2311 = evalRelease "23.11" {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
  };
  release2411 = evalRelease "24.11" {
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    age.secrets.a.file = f "a";
  };
  release2411StaticSysusers = evalRelease "24.11" (
    { config, ... }:
    {
      systemd.sysusers.enable = true;
      users.mutableUsers = false;
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.pw = {
        file = f "pw";
        neededForUsers = true;
      };
      users.users.alice = {
        isSystemUser = true;
        group = "users";
        hashedPasswordFile = config.age.secrets.pw.path;
      };
    }
  );
  release2505StaticSysusers = evalRelease "25.05" (
    { config, ... }:
    {
      systemd.sysusers.enable = true;
      users.mutableUsers = false;
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets.pw = {
        file = f "pw";
        neededForUsers = true;
      };
      users.users.alice = {
        isSystemUser = true;
        group = "users";
        hashedPasswordFile = config.age.secrets.pw.path;
      };
    }
  );
  # An agenix home-manager configuration (agenix used age.package for age).
  hmAgenix = hm (
    { config, pkgs, ... }:
    {
      age.package = pkgs.age;
      age.secrets.token.file = f "token";
      age.secrets.gpg = {
        file = f "gpg";
        path = "${config.home.homeDirectory}/.gnupg/key";
        symlink = false;
        mode = "0600";
      };
      age.secrets.api = {
        file = f "api";
        restartUnits = [ "sync.service" ];
      };
    }
  );
  # The module imported with nothing (left) in it.
  hmNoSecrets = hm { };
  hmDarwinNoSecrets = hm {
    _module.args.pkgs = lib.mkForce (import ./stub-pkgs.nix { hostSystem = "aarch64-darwin"; });
  };
  hmAllowDiskBacked = hm {
    age.allowDiskBacked = true;
    age.secretsDir = "$HOME/.local/state/agenix";
    # Trailing slash: agenix's home-manager option is untyped and took it.
    age.secretsMountPoint = "$HOME/.local/state/agenix.d/";
    age.secrets.token.file = f "token";
  };
  # agenix's non-NixOS habit: generations under $HOME, on disk.
  hmMountPointOnDisk = hm {
    age.secretsDir = "$HOME/.agenix";
    age.secretsMountPoint = "$HOME/.agenix.d";
    age.secrets.token.file = f "token";
  };
  hmLiteralRuntimeDir = hm {
    age.runtimeDir = "/run/user/1000";
    age.secrets.token.file = f "token";
  };
  hmCustom = hm module;
  darwinCustom = darwin module;
  darwinNoSecrets = darwin { };
  darwinPlain = darwin {
    age.secrets.db = {
      file = f "db";
      owner = "_postgres";
    };
  };
  darwinUsersSecret = darwin {
    age.secrets.pw = {
      file = f "pw";
      neededForUsers = true;
    };
  };
}
