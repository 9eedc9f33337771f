# What the installer (`secrets install`, src/install/manifest/) would refuse, checked
# at evaluation so that the message names the option (`age.secrets.db.mode`) and
# comes even when the build-time `install --check` does not run (validateManifest =
# false, cross-compiling). The rules are the installer's: src/install/manifest/
# fields.rs (names, paths, units, modes), src/install/own.rs (owners) and
# src/names.rs (characters no name or path may hold). The build-time check stays for
# what needs the files (decryption headers, hostPublicKeys) and as the last word.
{ lib }:
let
  inherit (lib) types;

  # ---- characters refused in every name and path (src/names.rs) ----
  # Code point ranges, inclusive: controls (C0, DEL, C1), line/paragraph separators,
  # format characters (Cf, bidi controls among them), default-ignorables, and spaces
  # other than U+0020.
  forbiddenRanges = [
    [ 1 31 ] # C0 (Nix strings cannot hold U+0000)
    [ 127 159 ] # DEL, C1
    [ 173 173 ]
    [ 847 847 ]
    [ 1536 1541 ]
    [ 1564 1564 ]
    [ 1757 1757 ]
    [ 1807 1807 ]
    [ 2192 2193 ]
    [ 2274 2274 ]
    [ 4447 4448 ]
    [ 6068 6069 ]
    [ 6155 6159 ]
    [ 8203 8207 ]
    [ 8232 8238 ] # line/paragraph separators, bidi embeddings and overrides
    [ 8288 8303 ]
    [ 12644 12644 ]
    [ 65024 65039 ]
    [ 65279 65279 ]
    [ 65440 65440 ]
    [ 65520 65531 ]
    [ 69821 69821 ]
    [ 69837 69837 ]
    [ 78896 78911 ]
    [ 113824 113827 ]
    [ 119155 119162 ]
    # spaces
    [ 160 160 ]
    [ 5760 5760 ]
    [ 8192 8202 ]
    [ 8239 8239 ]
    [ 8287 8287 ]
    [ 12288 12288 ]
  ];
  # U+E0000–U+E0FFF (tags, variation selectors 17–256, reserved): every one is refused,
  # and all share their first two UTF-8 bytes.
  tagBlockPrefix = builtins.substring 0 2 (charOf 917504);

  hex4 =
    n:
    let
      h = lib.toHexString n;
    in
    if builtins.stringLength h < 4 then lib.fixedWidthString 4 "0" h else h;
  # One code point as a UTF-8 string (JSON's \u escapes, surrogate pairs above U+FFFF).
  charOf =
    cp:
    let
      u = n: "\\u${hex4 n}";
      esc =
        if cp < 65536 then
          u cp
        else
          u (55296 + (cp - 65536) / 1024) + u (56320 + lib.mod (cp - 65536) 1024);
    in
    builtins.fromJSON "\"${esc}\"";
  forbiddenChars = lib.concatMap (r: map charOf (lib.range (builtins.head r) (lib.last r))) forbiddenRanges;

  printableAscii = s: builtins.match "[ -~]*" s != null;
in
rec {
  hasForbidden =
    s:
    !(printableAscii s) && (lib.hasInfix tagBlockPrefix s || lib.any (c: lib.hasInfix c s) forbiddenChars);

  # `s` with every refused character written as \u{XXXX}, safe to show.
  escaped =
    s:
    if !(hasForbidden s) then
      s
    else
      let
        tags = map charOf (lib.range 917504 921599);
        all = forbiddenChars ++ tags;
      in
      builtins.replaceStrings all (
        lib.concatMap (r: map (cp: "\\u{${hex4 cp}}") (lib.range (builtins.head r) (lib.last r))) (
          forbiddenRanges ++ [ [ 917504 921599 ] ]
        )
      ) s;

  forbiddenWhy = "contains a control, bidirectional, invisible or separator character (or a space other than U+0020), which would make it print like something it is not";

  # ---- systemd unit names (fields.rs check_unit; NixOS's unitNameType without `%`) ----
  unitTypes = [
    "service"
    "socket"
    "target"
    "timer"
    "path"
    "mount"
    "automount"
    "swap"
    "slice"
    "scope"
    "device"
  ];
  unitNameType =
    let
      ch = "([A-Za-z0-9:_.@-]|\\\\x[0-9a-fA-F]{2})";
      first = "([A-Za-z0-9:_.@]|\\\\x[0-9a-fA-F]{2})";
      re = "${first}${ch}*[.](${lib.concatStringsSep "|" unitTypes})";
    in
    types.addCheck types.str (s: builtins.stringLength s <= 255 && builtins.match re s != null)
    // {
      name = "unitName";
      description = "systemd unit name (like \"nginx.service\": letters, digits and :_.@- or \\xNN escapes, ending in .${lib.concatStringsSep "/." unitTypes})";
    };

  # ---- modes (fields.rs parse_mode: what chmod takes, without setuid/setgid/sticky) ----
  modeType =
    let
      octal = s: builtins.stringLength s <= 8 && builtins.match "0*[0-7]{1,3}" s != null;
      clause = "[ugoa]*([-+=]([rwxX]*|[ugo]))+";
      symbolic = s: builtins.match "${clause}(,${clause})*" s != null;
    in
    types.addCheck types.str (s: octal s || symbolic s)
    // {
      name = "mode";
      description = "file mode as chmod takes it, octal (\"0440\") or symbolic (\"u=r,g=r\"), without setuid, setgid or sticky bits";
    };

  # ---- owners and groups (own.rs Principal::parse) ----
  principalType =
    let
      # A numeric id: (uid_t)-1 = 4294967295 means "leave unchanged" to chown.
      isId = s: builtins.match "[0-9]+" s != null;
      idOk =
        s:
        let
          # Leading zeros are no digits of the id (the installer parses the number).
          t = builtins.head (builtins.match "0*([0-9]*)" s);
        in
        builtins.stringLength t < 10 || (builtins.stringLength t == 10 && t < "4294967295");
      isName = s: builtins.stringLength s <= 256 && builtins.match "[A-Za-z0-9_.$@][A-Za-z0-9_.$@-]*" s != null;
    in
    types.addCheck types.str (s: if isId s then idOk s else isName s)
    // {
      name = "principal";
      description = "user or group name (letters, digits and _.-$@, not starting with -) or numeric id below 4294967295";
    };

  # ---- item names (fields.rs check_name) ----
  # Why `name` is refused, or null.
  nameProblem =
    name:
    let
      comps = lib.splitString "/" name;
    in
    if name == "" then
      "is empty"
    else if lib.hasPrefix "/" name then
      "is absolute"
    else if builtins.stringLength name > 1024 then
      "is longer than 1024 bytes"
    else if hasForbidden name then
      forbiddenWhy
    else if lib.any (c: c == "" || c == "." || c == "..") comps then
      "has an empty, `.` or `..` component"
    else if lib.any (c: builtins.stringLength c > 255) comps then
      "has a component longer than 255 bytes"
    else if name == ".secrets-install.json" then
      "is reserved for the installer's state file"
    else
      null;

  # ---- paths (fields.rs expand) ----
  # `userMode`: $HOME, ${HOME}, $XDG_RUNTIME_DIR, ${XDG_RUNTIME_DIR} or ~ may start it.
  pathProblem =
    userMode: p:
    let
      vars = [
        "\${XDG_RUNTIME_DIR}"
        "$XDG_RUNTIME_DIR"
        "\${HOME}"
        "$HOME"
        "~"
      ];
      prefix = lib.findFirst (v: lib.hasPrefix v p) null vars;
      rest = if userMode && prefix != null then lib.removePrefix prefix p else p;
      absolute = lib.hasPrefix "/" rest || (userMode && prefix != null && rest == "");
    in
    if hasForbidden p then
      forbiddenWhy
    else if !absolute then
      "is not an absolute path${lib.optionalString userMode " (nor one starting with $HOME or $XDG_RUNTIME_DIR)"}"
    else if lib.elem ".." (lib.splitString "/" rest) then
      "contains a `..` component"
    else
      null;

  # Assertions for the names, paths and files of age.secrets/age.templates, each naming
  # its option and what is wrong, the value shown with refused characters escaped.
  itemAssertions =
    {
      secrets,
      templates,
      userMode ? false,
    }:
    let
      one =
        kind: attr: item:
        let
          at = "age.${kind}.${lib.strings.escapeNixIdentifier attr}";
          check = field: why: value: {
            assertion = why == null;
            message = ''${at}.${field} = "${escaped value}" ${toString why}.${
              lib.optionalString (field == "name") " Use a relative path like \"db-password\" or \"nginx/cert\"."
            }'';
          };
        in
        [
          (check "name" (nameProblem item.name) item.name)
          (check "path" (pathProblem userMode item.path) item.path)
        ]
        ++ lib.optional (hasForbidden attr) {
          assertion = false;
          message = ''age.${kind}."${escaped attr}": the attribute name ${forbiddenWhy}; rename it.'';
        }
        ++ lib.optional (kind == "secrets" && builtins.isString item.file && hasForbidden item.file) (
          check "file" forbiddenWhy item.file
        );
    in
    lib.concatLists (lib.mapAttrsToList (one "secrets") secrets)
    ++ lib.concatLists (lib.mapAttrsToList (one "templates") templates);
}
