//! Integration tests of `albert-heads`, in one binary (one link per crate keeps CI's build small).

mod common;
mod finetune_choice;
mod finetune_qa;
mod finetune_seqcls;
mod finetune_tagging;
mod qa_features;
mod task_data;
