//! Dependency graphs of objects to be made: which must exist before which.
//!
//! An object can refer only to objects registered before it, so a set of packages
//! that depend on each other (a cycle) becomes objects that refer to what the whole
//! cycle needs outside itself, never to each other.

use std::collections::{BTreeMap, BTreeSet};

/// Tarjan's strongly connected components of `graph` (node → the nodes it depends
/// on; edges to nodes not in the graph are ignored), each sorted, dependencies before
/// dependents. Deterministic: nodes and edges are visited in name order.
pub fn strongly_connected<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(node: &'a str, graph: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(node, i);
        s.low.insert(node, i);
        s.stack.push(node);
        s.on_stack.insert(node);
        let mut deps = graph[node].clone();
        deps.sort_unstable();
        for dep in deps {
            let Some((&dep, _)) = graph.get_key_value(dep) else {
                continue;
            };
            if !s.index.contains_key(dep) {
                visit(dep, graph, s);
                let low = s.low[dep].min(s.low[node]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(dep) {
                let low = s.index[dep].min(s.low[node]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            component.sort_unstable();
            s.out.push(component);
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &name in graph.keys() {
        if !state.index.contains_key(name) {
            visit(name, graph, &mut state);
        }
    }
    state.out
}

/// For each node, the nodes outside its own component that it (or any node of its
/// component) depends on: what its object refers to.
pub fn outside_dependencies<'a>(
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    components: &[Vec<&'a str>],
) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    let mut component_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, component) in components.iter().enumerate() {
        for &node in component {
            component_of.insert(node, i);
        }
    }
    let mut out = BTreeMap::new();
    for (i, component) in components.iter().enumerate() {
        let mut outside = BTreeSet::new();
        for node in component {
            for dep in &graph[node] {
                match component_of.get(dep) {
                    Some(&j) if j != i => outside.extend(components[j].iter().copied()),
                    _ => {}
                }
            }
        }
        for &node in component {
            out.insert(node, outside.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_become_one_component_after_their_dependencies() {
        let graph: BTreeMap<&str, Vec<&str>> = [
            ("app", vec!["a", "libc"]),
            ("a", vec!["b", "missing"]),
            ("b", vec!["a", "libc"]),
            ("libc", vec![]),
        ]
        .into_iter()
        .collect();
        let components = strongly_connected(&graph);
        assert_eq!(components, vec![vec!["libc"], vec!["a", "b"], vec!["app"]]);
        let outside = outside_dependencies(&graph, &components);
        assert_eq!(outside["a"], BTreeSet::from(["libc"]));
        assert_eq!(outside["b"], BTreeSet::from(["libc"]));
        assert_eq!(outside["app"], BTreeSet::from(["a", "b", "libc"]));
        assert!(outside["libc"].is_empty());
    }
}
