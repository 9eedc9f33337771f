# VM test of the home-manager module: a user service decrypts into
# $XDG_RUNTIME_DIR with the user's own key, and a user unit reads the secret
# through `config.age.secrets.<name>.path` (expanded by systemd).
{
  fixtures,
  homeManagerNixos,
  secretsHome,
}:
{
  name = "secrets-home-manager";

  nodes.machine =
    { lib, ... }:
    {
      imports = [ homeManagerNixos ];

      users.users.alice = {
        isNormalUser = true;
        uid = 1000;
        # Start the user manager at boot, no login needed.
        linger = true;
      };

      # The user's identity, as a file they own (copied, not a store symlink).
      system.activationScripts.aliceKey = {
        deps = [ "users" ];
        text = ''
          install -d -m 0700 -o alice -g users /home/alice/.ssh
          install -m 0600 -o alice -g users ${fixtures}/alice_key /home/alice/.ssh/id_ed25519
        '';
      };

      home-manager.users.alice =
        { config, ... }:
        {
          imports = [ secretsHome ];
          home.stateVersion = lib.trivial.release;
          age.secrets.hm.file = "${fixtures}/hm.age";
          age.secrets.hm-copy = {
            file = "${fixtures}/hm.age";
            path = "${config.home.homeDirectory}/hm-copy";
            symlink = false;
            mode = "0600";
          };

          systemd.user.services.reader = {
            Unit.After = [ "agenix.service" ];
            Unit.Requires = [ "agenix.service" ];
            Service = {
              Type = "oneshot";
              RemainAfterExit = true;
              # systemd expands ''${XDG_RUNTIME_DIR} in the default path.
              ExecStart = "/bin/sh -c 'cat ${config.age.secrets.hm.path} > %h/read'";
            };
            Install.WantedBy = [ "default.target" ];
          };
        };
    };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("agenix.service", "alice")
    assert machine.succeed("cat /run/user/1000/agenix/hm") == "PLAINTEXT-MARKER-hm"
    assert machine.succeed("stat -L -c '%U %a' /run/user/1000/agenix/hm").strip() == "alice 400"
    assert machine.succeed("cat /home/alice/hm-copy") == "PLAINTEXT-MARKER-hm"
    machine.succeed("test ! -L /home/alice/hm-copy")
    machine.wait_for_unit("reader.service", "alice")
    assert machine.succeed("cat /home/alice/read") == "PLAINTEXT-MARKER-hm"
  '';
}
