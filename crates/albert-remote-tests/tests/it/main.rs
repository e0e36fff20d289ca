//! Integration tests of `albert-remote-tests`, in one binary (one link per crate keeps CI's build small).

mod remote_training;
