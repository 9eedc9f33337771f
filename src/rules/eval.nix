# How `secrets` evaluates a secrets.nix (run by nix_eval.rs inside its fence). The rules file
# is imported once. A `throw` or failed `assert` in one rule makes only that rule unusable;
# builtins.tryEval catches nothing else: any other error (a type error, `abort`, a refused file
# or download) fails the whole file.
#
# mode "inspect" prints { plain = { NAME = { ATTR = V; … }; … }; ignored = { NAME = [ EXTRA … ];
# … }; rules = { NAME = RULE; … }; }, or { notSet = TYPE; } when the file is not a set.
# `plain` holds the good rules: sets whose known attributes (named in `known`, a JSON list)
# evaluate without a throw to values parse.rs takes as they are; only their known attributes,
# and in `ignored` the names of the others, which are never evaluated (agenix ignores them
# too). `rules` (absent when all are good) holds the others, looked at attribute by attribute:
#   { thrown = true; }            the rule's value itself throws
#   { type = TYPE; }              the rule is not an attribute set
#   { attrs = { ATTR = { value = V; } or { thrown = true; }; … }; extra = [ NAME … ]; }
# All rules are first tried at once, in one tryEval; only when that fails is each tried on its
# own. 100,000 rules: 0.44 s and 140 MiB of Nix when all are good, 0.65 s and 190 MiB when one
# throws (looking at every rule attribute by attribute took 0.62 s and 279 MiB, 0.76 s and
# 294 MiB with the throw).
# mode "inspectEach" (for tests): every rule attribute by attribute, as `rules` above.
# mode "force": evaluate rule `ruleName` (its attribute `attrName`, or all of it for ""),
#   so that Nix prints what it throws.
{ rulesFile, mode, known ? "[]", ruleName ? "", attrName ? "" }:
# getFlake or fetchClosure still there means the option that turns them off did not take.
if builtins ? getFlake || builtins ? fetchClosure then throw "@FEATURES_ON@" else
let
  rules = import (/. + rulesFile);
  knownAttrs = builtins.fromJSON known;
  forced = v: builtins.tryEval (builtins.deepSeq v v);
  # JSON cannot carry a function or a path (converting a path would copy it to the store), and
  # a set with outPath or __toString converts to something else: their type goes in their place.
  plain = v:
    let t = builtins.typeOf v; in
    if t == "set" then
      (if v ? outPath || v ? __toString then { "@TYPE_MARK@" = "special set"; }
       else builtins.mapAttrs (_: plain) v)
    # A list of strings (publicKeys) is already plain: not copied (100,000 rules: -40 MiB).
    else if t == "list" then (if builtins.all builtins.isString v then v else map plain v)
    else if builtins.elem t [ "string" "int" "float" "bool" "null" ] then v
    else { "@TYPE_MARK@" = t; };
  attr = rule: name:
    let r = forced rule.${name}; in
    if r.success then { value = plain r.value; } else { thrown = true; };
  inspect = rule:
    let isSet = builtins.tryEval (builtins.isAttrs rule); in
    if !isSet.success then { thrown = true; }
    else if !isSet.value then { type = builtins.typeOf rule; }
    else {
      attrs = builtins.listToAttrs (map (n: { name = n; value = attr rule n; })
        (builtins.filter (n: rule ? ${n}) knownAttrs));
      extra = builtins.filter (n: !builtins.elem n knownAttrs) (builtins.attrNames rule);
    };
  knownSet = builtins.listToAttrs (map (n: { name = n; value = null; }) knownAttrs);
  # What `plain` leaves unchanged: JSON can carry it as it is.
  isPlain = v:
    let t = builtins.typeOf v; in
    if t == "set" then
      !(v ? outPath || v ? __toString) && builtins.all (n: isPlain v.${n}) (builtins.attrNames v)
    else if t == "list" then builtins.all isPlain v
    else builtins.elem t [ "string" "int" "float" "bool" "null" ];
  # Rules that `inspect` and the type checks after it in parse.rs would pass unchanged (a few
  # others they pass too, such as `publicKeys = null`, go the slower way to the same result).
  # Attribute by attribute (a loop over `knownAttrs` costs 30% more), so the list is checked.
  good = r: builtins.isAttrs r
    && (r ? publicKeys -> builtins.isList r.publicKeys && builtins.all builtins.isString r.publicKeys)
    && (r ? armor -> builtins.isBool r.armor)
    && (r ? generator -> isPlain r.generator)
    && (r ? format -> isPlain r.format);
  goodKnows = [ "publicKeys" "armor" "generator" "format" ];
  allGood =
    if knownAttrs != goodKnows then throw "secrets: eval.nix does not check every known attribute"
    else builtins.tryEval (builtins.all good (builtins.attrValues rules));
  # Only names are looked at: no value is evaluated, so nothing here can throw.
  extras = r: builtins.filter (a: !(knownSet ? ${a})) (builtins.attrNames r);
  # The answer for `set`, rules that are all good: as they are, or only their known attributes
  # when some have others.
  plainOf = set:
    if !builtins.any (r: extras r != [ ]) (builtins.attrValues set) then { plain = set; ignored = { }; }
    else {
      plain = builtins.mapAttrs (_: r: builtins.intersectAttrs knownSet r) set;
      ignored = builtins.listToAttrs (builtins.concatMap
        (n: let x = extras set.${n}; in if x == [ ] then [ ] else [ { name = n; value = x; } ])
        (builtins.attrNames set));
    };
  usable = r: let t = builtins.tryEval (good r); in t.success && t.value;
  # Some rule is not good: each is tried on its own, and only those that fail are inspected.
  mixed = let badNames = builtins.filter (n: !usable rules.${n}) (builtins.attrNames rules); in
    plainOf (builtins.removeAttrs rules badNames) // {
      rules = builtins.listToAttrs (map (n: { name = n; value = inspect rules.${n}; }) badNames);
    };
  one = let rule = rules.${ruleName}; in if attrName == "" then rule else rule.${attrName};
in
if mode == "force" then builtins.deepSeq one null
else if !builtins.isAttrs rules then { notSet = builtins.typeOf rules; }
else if mode == "inspectEach" then { rules = builtins.mapAttrs (_: inspect) rules; }
else if allGood.success && allGood.value then plainOf rules
else mixed
