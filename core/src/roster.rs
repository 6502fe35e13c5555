//! The roster: who should be using Claude Code, their team, and which other
//! person keys (API key names, account ids, second e-mails) are theirs.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::PersonKey;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// The person's e-mail, normalised.
    pub person: PersonKey,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// Seat-assigned or start date: "days to first use" counts from it.
    #[serde(default)]
    pub start: Option<NaiveDate>,
    /// Other keys that are this person (other e-mails, `api-key:<name>`, `account:<id>`).
    #[serde(default)]
    pub aliases: Vec<PersonKey>,
}

impl RosterEntry {
    pub fn new(person: PersonKey) -> RosterEntry {
        RosterEntry {
            person,
            name: None,
            team: None,
            start: None,
            aliases: Vec::new(),
        }
    }
}

/// A roster with its alias index. Build it with [`Roster::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<RosterEntry>", into = "Vec<RosterEntry>")]
pub struct Roster {
    entries: Vec<RosterEntry>,
    index: HashMap<PersonKey, usize>,
    /// Aliases claimed by two different people: kept for the first, reported.
    conflicts: Vec<String>,
}

impl From<Vec<RosterEntry>> for Roster {
    fn from(entries: Vec<RosterEntry>) -> Roster {
        Roster::new(entries)
    }
}

impl From<Roster> for Vec<RosterEntry> {
    fn from(r: Roster) -> Vec<RosterEntry> {
        r.entries
    }
}

impl Roster {
    /// Builds the index. A person listed twice is merged (later fields fill
    /// gaps, aliases are united); an alias claimed by two people stays with
    /// the first and is reported in [`Roster::conflicts`].
    pub fn new(list: Vec<RosterEntry>) -> Roster {
        let mut entries: Vec<RosterEntry> = Vec::with_capacity(list.len());
        let mut primary: HashMap<PersonKey, usize> = HashMap::new();
        for e in list {
            match primary.get(&e.person) {
                Some(&i) => {
                    let have = &mut entries[i];
                    if e.name.is_some() {
                        have.name = e.name;
                    }
                    if e.team.is_some() {
                        have.team = e.team;
                    }
                    if e.start.is_some() {
                        have.start = e.start;
                    }
                    for a in e.aliases {
                        if !have.aliases.contains(&a) {
                            have.aliases.push(a);
                        }
                    }
                }
                None => {
                    primary.insert(e.person.clone(), entries.len());
                    entries.push(e);
                }
            }
        }
        let mut index = primary.clone();
        let mut conflicts = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            for a in &e.aliases {
                if let Some(&j) = index.get(a) {
                    if j != i {
                        conflicts.push(format!(
                            "alias {a} is listed for both {} and {}; it counts for {}",
                            entries[j].person, e.person, entries[j].person
                        ));
                    }
                    continue;
                }
                index.insert(a.clone(), i);
            }
        }
        Roster {
            entries,
            index,
            conflicts,
        }
    }

    /// Merges another roster into this one (a second roster file, or the
    /// Admin API users list).
    pub fn merged_with(&self, other: &Roster) -> Roster {
        let mut all = self.entries.clone();
        all.extend(other.entries.iter().cloned());
        Roster::new(all)
    }

    pub fn entries(&self) -> &[RosterEntry] {
        &self.entries
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    /// The roster person a key belongs to (the key itself or one of the aliases).
    pub fn entry_for(&self, key: &PersonKey) -> Option<&RosterEntry> {
        self.index.get(key).map(|&i| &self.entries[i])
    }

    /// Maps any key onto the roster person it is an alias of; unknown keys stay as they are.
    pub fn resolve(&self, key: &PersonKey) -> PersonKey {
        match self.index.get(key) {
            Some(&i) => self.entries[i].person.clone(),
            None => key.clone(),
        }
    }

    /// Teams named in the roster, sorted.
    pub fn teams(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .entries
            .iter()
            .filter_map(|e| e.team.as_deref())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }
}
