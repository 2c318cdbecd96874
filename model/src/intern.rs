//! A small interner: the fold keeps a procedure code as a `u32`, not a
//! string per filing.

use std::collections::HashMap;

/// Maps strings to dense ids starting at 1; 0 means "none".
#[derive(Clone, Debug, Default)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.names.push(s.into());
        let id = self.names.len() as u32;
        self.ids.insert(s.into(), id);
        id
    }

    /// The string of an id; `None` for 0 or an id this interner never gave.
    pub fn resolve(&self, id: u32) -> Option<&str> {
        id.checked_sub(1)
            .and_then(|i| self.names.get(i as usize))
            .map(|s| &**s)
    }

    /// Every string, in id order (id 1 first): what a checkpoint stores.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|s| &**s)
    }

    /// The interner that `names` came from: ids are positions again.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut i = Interner::new();
        for n in names {
            i.names.push(n.into());
            i.ids.insert(n.into(), i.names.len() as u32);
        }
        i
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_densely_and_resolves() {
        let mut i = Interner::new();
        assert_eq!(i.intern("1.001193"), 1);
        assert_eq!(i.intern("1.000894"), 2);
        assert_eq!(i.intern("1.001193"), 1);
        assert_eq!(i.resolve(2), Some("1.000894"));
        assert_eq!(i.resolve(0), None);
        assert_eq!(i.resolve(3), None);
        assert_eq!(i.len(), 2);
        let back = Interner::from_names(i.names());
        assert_eq!(back.resolve(2), Some("1.000894"));
        assert_eq!(back.clone().intern("1.000894"), 2);
    }
}
