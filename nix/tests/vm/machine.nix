# The NixOS configuration shared by the VM tests. `usersBy` picks how users
# are created: "scripts" (activation scripts), "sysusers" or "userborn".
{
  fixtures,
  secretsModule,
  usersBy ? "scripts",
}:
{
  config,
  lib,
  pkgs,
  ...
}:
{
  imports = [ secretsModule ];

  # A test host key in the store is fine. Installed by its own activation
  # snippet ahead of the installer: NixOS fills /etc (environment.etc) only
  # after `users` and `groups`, later than both install phases, and a fresh VM
  # has no key yet (a real host has it on disk from its first boot).
  system.activationScripts.installTestHostKey = {
    deps = [ "specialfs" ];
    text = "install -D -m 0600 ${fixtures}/host_key /etc/ssh/ssh_host_ed25519_key";
  };
  system.activationScripts.agenixInstall.deps = [ "installTestHostKey" ];
  age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];

  systemd.sysusers.enable = usersBy == "sysusers";
  services.userborn.enable = usersBy == "userborn";
  users.mutableUsers = false;

  # systemd-sysusers creates only system users; give it one that can log in.
  users.users.alice =
    {
      hashedPasswordFile = config.age.secrets.alice-password.path;
    }
    // (
      if usersBy == "sysusers" then
        {
          isSystemUser = true;
          group = "alice";
          useDefaultShell = true;
          home = "/var/lib/alice";
          createHome = true;
        }
      else
        { isNormalUser = true; }
    );
  users.groups.alice = { };
  users.users.app = {
    isSystemUser = true;
    group = "app";
  };
  users.groups.app = { };

  age.secrets.alice-password = {
    file = "${fixtures}/alice-password.age";
    neededForUsers = true;
  };
  age.secrets.db = {
    file = "${fixtures}/db-v1.age";
    owner = "app";
    mode = "0440";
    restartUnits = [ "consumer.service" ];
  };
  age.secrets.api = {
    file = "${fixtures}/api.age";
    path = "/var/lib/app/api-token";
    owner = "app";
  };
  age.secrets.copied = {
    file = "${fixtures}/api.age";
    path = "/etc/app-copied";
    symlink = false;
  };
  age.templates."app.env" = {
    content = "TOKEN=${config.age.placeholder.api}\n";
    owner = "app";
    mode = "0400";
  };

  # Records every start with the secret it saw, to observe restarts.
  systemd.services.consumer = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.StateDirectory = "consumer";
    script = ''
      cat /run/agenix/db >> /var/lib/consumer/starts
      echo >> /var/lib/consumer/starts
      exec sleep infinity
    '';
  };

  # The same system with the secret changed, for the switch test.
  specialisation.changed.configuration = {
    age.secrets.db.file = lib.mkForce "${fixtures}/db-v2.age";
  };

  system.stateVersion = lib.trivial.release;
}
