//! YAML 1.2 parsed into the shared tree from saphyr-parser's events (see README for why that
//! crate). We build the tree ourselves, so the limits are ours and hold whatever the crate
//! does: nesting depth, value count and size, all with aliases expanded. An alias costs one
//! pointer (anchored nodes are shared, never copied), and a billion-laughs document is refused
//! while it is read, as soon as its expanded size passes the limit.
//!
//! Scalars keep their text as written: YAML 1.1's `yes`, `on`, `0644` are installed as those
//! characters, never as true or 420. For canonical JSON a scalar is typed by YAML 1.2's core
//! schema, conservatively: a plain `null`, `Null`, `NULL`, `~` or empty one is null; a plain
//! `true`/`false` (any of the core schema's three casings) a boolean; a plain scalar whose text
//! is a JSON number literal a number (written as is); anything else, and every quoted, block or
//! tagged scalar, a string. So nothing is ever re-written: `0x1F`, `+1`, `.inf` stay strings.
//!
//! Refused: more than one document, a mapping key that is a list or mapping, an alias as a key
//! unless it names a string, number or boolean, a duplicate key (compared by text). Merge keys
//! (`<<`, YAML 1.1) are ordinary keys, as in YAML 1.2; a lookup that misses says so.
//!
//! Not wiped: the crate builds a scalar's text in its own growing strings when the scalar has
//! escapes, folding or block style, and keeps scanner buffers; we take over the finished string
//! (wiped when dropped) but cannot reach the copies it left while growing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use zeroize::Zeroizing;

use super::tree::{self, Entry, Kind, Node};
use super::{json, Fail, Limits};

pub(super) fn parse(limits: &Limits, text: &str) -> Result<Node, Fail> {
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        documents: 0,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        // The crate's message may quote the document: keep only where.
        let (event, span) = event
            .map_err(|e| Fail::syntax("a syntax error", e.marker().line(), e.marker().col() + 1))?;
        b.event(event, span)?;
    }
    Ok(b.root.unwrap_or(Node::Null))
}

/// What a finished node costs, aliases expanded: its height (a scalar 0), its values, its text.
#[derive(Clone, Copy, Default)]
struct Cost {
    height: usize,
    nodes: usize,
    bytes: usize,
}

enum Frame {
    List {
        items: Vec<Node>,
        anchor: usize,
        cost: Cost,
    },
    Map {
        entries: Vec<Entry>,
        key: Option<(Zeroizing<String>, (usize, usize))>,
        anchor: usize,
        cost: Cost,
    },
}

struct Builder<'a> {
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// Anchored nodes by the crate's anchor id; an alias refers to one that is complete (an
    /// alias inside its own anchor's node finds nothing here: no cycles).
    anchors: HashMap<usize, (Rc<Node>, Cost)>,
    root: Option<Node>,
    documents: usize,
}

fn at(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Fail> {
        let (line, column) = at(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Fail::syntax(
                        "a second document (`---`): a structured secret is one document",
                        line,
                        column,
                    ));
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.awaits_key() {
                    return Err(Fail::syntax(
                        "a mapping key that is a list or mapping: keys must be scalars",
                        line,
                        column,
                    ));
                }
                if self.stack.len() >= self.limits.depth {
                    return Err(self.too_deep(line, column));
                }
                let cost = Cost {
                    height: 1,
                    nodes: 1,
                    bytes: 0,
                };
                self.stack.push(match event {
                    Event::SequenceStart(..) => Frame::List {
                        items: Vec::new(),
                        anchor,
                        cost,
                    },
                    _ => Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        anchor,
                        cost,
                    },
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, cost) = match self.stack.pop() {
                    Some(Frame::List {
                        items,
                        anchor,
                        cost,
                    }) => (Node::List(items), anchor, cost),
                    Some(Frame::Map {
                        mut entries,
                        anchor,
                        cost,
                        ..
                    }) => {
                        tree::sort_entries(&mut entries).map_err(|(l, c)| {
                            Fail::syntax("a key that is already in this mapping", l, c)
                        })?;
                        (Node::Map(entries), anchor, cost)
                    }
                    None => unreachable!("the parser pairs starts and ends"),
                };
                self.finish(node, anchor, cost, (line, column))?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let text = match text {
                    Cow::Owned(s) => Zeroizing::new(s),
                    Cow::Borrowed(s) => tree::string_wiped(s),
                };
                let cost = Cost {
                    height: 0,
                    nodes: 1,
                    bytes: text.len(),
                };
                if self.awaits_key() {
                    if anchor != 0 {
                        let copy = scalar(tree::string_wiped(&text), style, tag.as_deref());
                        self.anchors.insert(anchor, (Rc::new(copy), cost));
                    }
                    return self.key(text, (line, column));
                }
                let node = scalar(text, style, tag.as_deref());
                self.finish(node, anchor, cost, (line, column))?;
            }
            Event::Alias(id) => {
                let Some((rc, cost)) = self.anchors.get(&id).map(|(rc, c)| (rc.clone(), *c)) else {
                    return Err(Fail::syntax(
                        "an alias to an anchor that is not complete before it",
                        line,
                        column,
                    ));
                };
                if self.awaits_key() {
                    return match &*rc {
                        Node::Scalar(s) => self.key(tree::string_wiped(&s.text), (line, column)),
                        _ => Err(Fail::syntax("an alias as a mapping key names a list, mapping or null: keys must be scalars", line, column)),
                    };
                }
                if self.stack.len() + cost.height > self.limits.depth {
                    return Err(self.too_deep(line, column));
                }
                self.place(Node::Shared(rc), cost, (line, column))?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn awaits_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn key(&mut self, text: Zeroizing<String>, at: (usize, usize)) -> Result<(), Fail> {
        let bytes = text.len();
        if let Some(Frame::Map { key, cost, .. }) = self.stack.last_mut() {
            *key = Some((text, at));
            cost.bytes = cost.bytes.saturating_add(bytes);
        }
        self.check(at)
    }

    /// A complete node: shared if anchored, then placed in its parent.
    fn finish(
        &mut self,
        node: Node,
        anchor: usize,
        cost: Cost,
        at: (usize, usize),
    ) -> Result<(), Fail> {
        let node = if anchor == 0 {
            node
        } else {
            let rc = Rc::new(node);
            self.anchors.insert(anchor, (rc.clone(), cost));
            Node::Shared(rc)
        };
        self.place(node, cost, at)
    }

    fn place(&mut self, node: Node, child: Cost, at: (usize, usize)) -> Result<(), Fail> {
        let cost = match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                return Ok(());
            }
            Some(Frame::List { items, cost, .. }) => {
                items.push(node);
                cost
            }
            Some(Frame::Map {
                entries, key, cost, ..
            }) => {
                let (key, key_at) = key.take().expect("a value follows its key");
                entries.push(Entry {
                    key,
                    at: key_at,
                    value: node,
                });
                cost
            }
        };
        cost.height = cost.height.max(child.height + 1);
        cost.nodes = cost.nodes.saturating_add(child.nodes);
        cost.bytes = cost.bytes.saturating_add(child.bytes);
        self.check(at)
    }

    /// Each open node holds the total of its finished children; their sum is all that was
    /// read so far, aliases expanded. Checked at every value placed, so an expansion that
    /// passes a limit is refused there, not at the document's end.
    fn check(&self, (line, column): (usize, usize)) -> Result<(), Fail> {
        let nodes = self
            .open_costs()
            .map(|c| c.nodes)
            .fold(0, usize::saturating_add);
        let bytes = self
            .open_costs()
            .map(|c| c.bytes)
            .fold(0, usize::saturating_add);
        if nodes > self.limits.nodes || bytes > self.limits.document_bytes {
            return Err(Fail::syntax(
                format!(
                    "with its aliases expanded the document holds more than {} values or {} bytes, the most allowed",
                    self.limits.nodes, self.limits.document_bytes
                ),
                line,
                column,
            ));
        }
        Ok(())
    }

    fn open_costs(&self) -> impl Iterator<Item = &Cost> {
        self.stack.iter().map(|f| match f {
            Frame::List { cost, .. } | Frame::Map { cost, .. } => cost,
        })
    }

    fn too_deep(&self, line: usize, column: usize) -> Fail {
        Fail::syntax(
            format!(
                "nested deeper than {} levels (aliases expanded)",
                self.limits.depth
            ),
            line,
            column,
        )
    }
}

/// A scalar typed for canonical JSON (see the module's comment).
fn scalar(text: Zeroizing<String>, style: ScalarStyle, tag: Option<&Tag>) -> Node {
    if style != ScalarStyle::Plain || tag.is_some() {
        return Node::scalar(text, Kind::String);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Node::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => Node::scalar(text, Kind::Bool),
        t if json::number_len(t.as_bytes()) == Some(t.len()) => Node::scalar(text, Kind::Number),
        _ => Node::scalar(text, Kind::String),
    }
}
