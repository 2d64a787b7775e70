//! The desk's adapters: storage ([`repo`]).

pub mod repo;
