//! Integration tests of `albert-wgpu-tests`, in one binary (one link per crate keeps CI's build small).

mod wgpu_parity;
mod wgpu_pretrain;
