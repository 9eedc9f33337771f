# How `secrets` evaluates a secrets.nix (run by nix_eval.rs inside its fence). The rules file
# is imported once; each rule is then looked at on its own, so that a `throw` or failed
# `assert` in one rule makes only that rule unusable. builtins.tryEval catches nothing else:
# any other error (a type error, `abort`, a refused file or download) fails the whole file.
#
# mode "inspect": { rules = { NAME = RULE; … }; } or { notSet = TYPE; }, where RULE is
#   { thrown = true; }            the rule's value itself throws
#   { type = TYPE; }              the rule is not an attribute set
#   { attrs = { ATTR = { value = V; } or { thrown = true; }; … }; extra = [ NAME … ]; }
#     for every attribute named in `known` (a JSON list) that the rule has; `extra` names the
#     others, which are never evaluated (agenix ignores them too).
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
  one = let rule = rules.${ruleName}; in if attrName == "" then rule else rule.${attrName};
in
if mode == "force" then builtins.deepSeq one null
else if builtins.isAttrs rules then { rules = builtins.mapAttrs (_: inspect) rules; }
else { notSet = builtins.typeOf rules; }
