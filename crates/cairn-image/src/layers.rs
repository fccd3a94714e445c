//! Splitting a root file system into layers under a budget.
//!
//! The strategy is nixpkgs' "references by popularity" applied to packages: every part
//! gets a layer of its own while the budget allows, the most depended-on parts lowest
//! (shared libraries: `libc6` first), so images that share packages share those
//! layers, and a change to one package changes only its layer. When there are more
//! parts than the budget allows, the least popular ones share the last package layer.
//! The files composition and synthesis made (merged-/usr links, accounts, the CA
//! bundle, the dpkg status, alternatives) come next, one layer per group, so a new
//! account or package list touches only those small layers; the application's own
//! content comes last.
//!
//! A layer's bytes depend only on its entries, so its digest is stable whatever the
//! order of the layers around it.

use std::collections::BTreeMap;

use cairn_oci::LayerEntry;

use crate::rootfs::Rootfs;

/// The default number of layers: room for a typical closure (python3 and
/// ca-certificates are 37 packages) one package per layer, while leaving images well
/// under the 127 layers overlay-based runtimes can stack, for images built on top.
pub const DEFAULT_BUDGET: usize = 64;

/// One layer to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLayer {
    /// What the layer holds, for the image history (`cairn: libc6 2.41-12`, …).
    pub description: String,
    /// Labels of the parts in it (empty for synthesized layers).
    pub parts: Vec<String>,
    pub entries: Vec<LayerEntry>,
}

/// Why the layers could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "a budget of {budget} layers is too small: this image needs at least {minimum} \
         (one for its packages, one per group of generated files and one per part of the application)"
    )]
    BudgetTooSmall { budget: usize, minimum: usize },
}

/// Plans the layers of `rootfs`: parts ordered by `popularity` (how many parts depend
/// on each, directly or not; higher first), then the synthesized groups by name.
pub fn plan_layers(
    rootfs: &Rootfs,
    popularity: &[usize],
    budget: usize,
) -> Result<Vec<PlannedLayer>, PlanError> {
    let mut by_part: BTreeMap<usize, Vec<LayerEntry>> = rootfs
        .by_part
        .iter()
        .enumerate()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(i, entries)| (i, entries.values().cloned().collect()))
        .collect();
    let mut by_group: BTreeMap<String, Vec<LayerEntry>> = BTreeMap::new();
    for (path, e) in &rootfs.entries {
        match e.part {
            Some(_) => {}
            None => by_group
                .entry(
                    rootfs
                        .groups
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| "base".to_owned()),
                )
                .or_default()
                .push(e.entry.clone()),
        }
    }
    // The application's parts: one layer each, last, in the order given.
    let application: Vec<usize> = by_part
        .keys()
        .copied()
        .filter(|&i| rootfs.parts[i].application)
        .collect();
    let packages = by_part.len() - application.len();
    let minimum = by_group.len() + application.len() + usize::from(packages > 0);
    if budget < minimum {
        return Err(PlanError::BudgetTooSmall { budget, minimum });
    }
    let mut order: Vec<usize> = by_part
        .keys()
        .copied()
        .filter(|&i| !rootfs.parts[i].application)
        .collect();
    order.sort_by(|&a, &b| {
        popularity
            .get(b)
            .cmp(&popularity.get(a))
            .then_with(|| rootfs.parts[a].label.cmp(&rootfs.parts[b].label))
    });
    let available = budget - by_group.len() - application.len();
    let mut layers = Vec::new();
    let (own, shared) = if order.len() <= available {
        (order.as_slice(), &[][..])
    } else {
        order.split_at(available - 1)
    };
    let named = |i: usize| {
        let part = &rootfs.parts[i];
        match &part.version {
            Some(version) => format!("{} {version}", part.label),
            None => part.label.clone(),
        }
    };
    for &i in own {
        let label = rootfs.parts[i].label.clone();
        layers.push(PlannedLayer {
            description: format!("cairn: {}", named(i)),
            parts: vec![label],
            entries: by_part.remove(&i).unwrap_or_default(),
        });
    }
    if !shared.is_empty() {
        layers.push(shared_layer(rootfs, shared, &mut by_part, &named));
    }
    for (group, entries) in by_group {
        layers.push(PlannedLayer {
            description: format!("cairn: {group}"),
            parts: Vec::new(),
            entries,
        });
    }
    for i in application {
        layers.push(PlannedLayer {
            description: format!("cairn: {}", named(i)),
            parts: vec![rootfs.parts[i].label.clone()],
            entries: by_part.remove(&i).unwrap_or_default(),
        });
    }
    Ok(layers)
}

/// One layer for the least popular package parts.
fn shared_layer(
    rootfs: &Rootfs,
    shared: &[usize],
    by_part: &mut BTreeMap<usize, Vec<LayerEntry>>,
    named: &dyn Fn(usize) -> String,
) -> PlannedLayer {
    let mut labels: Vec<String> = shared
        .iter()
        .map(|&i| rootfs.parts[i].label.clone())
        .collect();
    labels.sort();
    let mut names: Vec<String> = shared.iter().map(|&i| named(i)).collect();
    names.sort();
    // Parts share directories (and identical files): each path once, from the most
    // popular part that has it.
    let mut merged: BTreeMap<Vec<u8>, LayerEntry> = BTreeMap::new();
    for i in shared {
        for entry in by_part.remove(i).unwrap_or_default() {
            merged.entry(entry.path.clone()).or_insert(entry);
        }
    }
    PlannedLayer {
        description: format!("cairn: {} packages: {}", names.len(), names.join(", ")),
        parts: labels,
        entries: merged.into_values().collect(),
    }
}
