# VM test: boot, password login, owners and modes, template, restart after a
# changed secret and a switch, old generations removed. Parameterised by how
# users are created (activation scripts, systemd-sysusers, userborn).
{
  fixtures,
  secretsModule,
  usersBy,
}:
{
  name = "secrets-${usersBy}";

  nodes.machine = import ./machine.nix { inherit fixtures secretsModule usersBy; };

  testScript = ''
    machine.wait_for_unit("multi-user.target")

    with subtest("owners, modes and paths"):
        machine.succeed("test -L /run/agenix")
        assert machine.succeed("stat -L -c '%U:%G %a' /run/agenix/db").strip() == "app:app 440"
        assert machine.succeed("stat -L -c '%U:%G %a' /run/agenix-for-users/alice-password").strip() == "root:root 400"
        machine.succeed("test -L /var/lib/app/api-token")
        assert machine.succeed("cat /var/lib/app/api-token") == "PLAINTEXT-MARKER-api"
        machine.succeed("test -f /etc/app-copied && ! test -L /etc/app-copied")
        assert machine.succeed("stat -c '%U %a' /etc/app-copied").strip() == "root 400"

    with subtest("template"):
        assert machine.succeed("cat /run/agenix/rendered/app.env") == "TOKEN=PLAINTEXT-MARKER-api\n"
        assert machine.succeed("stat -L -c '%U %a' /run/agenix/rendered/app.env").strip() == "app 400"

    with subtest("login with the password from a secret"):
        # tty2: kernel messages go to tty1 in test VMs. Its getty starts on the switch.
        machine.send_key("alt-f2")
        machine.wait_until_succeeds("[ $(fgconsole) = 2 ]")
        machine.wait_for_unit("getty@tty2.service")
        machine.wait_until_succeeds("pgrep -f 'agetty.*tty2'")
        machine.wait_until_tty_matches("2", "login: ")
        machine.send_chars("alice\n")
        machine.wait_until_tty_matches("2", "login: alice")
        machine.wait_until_succeeds("pgrep login")
        machine.wait_until_tty_matches("2", "Password: ")
        machine.send_chars("${fixtures.alicePassword}\n")
        machine.wait_until_succeeds("pgrep -u alice bash")

    with subtest("restart after a changed secret and a switch"):
        machine.wait_for_unit("consumer.service")
        # Active is not yet written: wait for the line, then require it alone.
        machine.wait_until_succeeds("grep -qx PLAINTEXT-MARKER-db-v1 /var/lib/consumer/starts")
        assert machine.succeed("cat /var/lib/consumer/starts") == "PLAINTEXT-MARKER-db-v1\n"
        machine.succeed("/run/current-system/specialisation/changed/bin/switch-to-configuration test")
        assert machine.succeed("cat /run/agenix/db") == "PLAINTEXT-MARKER-db-v2"
        machine.wait_until_succeeds("grep -qx PLAINTEXT-MARKER-db-v2 /var/lib/consumer/starts")

    with subtest("old generations removed"):
        gens = [g for g in machine.succeed("ls /run/agenix.d").split() if g.isdigit()]
        assert len(gens) == 1, f"generations left: {gens}"
        current = machine.succeed("readlink /run/agenix").strip()
        assert current == f"/run/agenix.d/{gens[0]}", current
  '';
}
