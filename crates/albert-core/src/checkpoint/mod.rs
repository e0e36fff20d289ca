//! Checkpoints: Hugging Face safetensors in and out through one name table
//! ([`hf_names`]), and burn's own record format for training.

mod export;
pub mod hf_names;
mod load;
mod params;
mod record;
mod safetensors_io;

pub use export::export_hf;
pub use load::{LoadReport, Mismatch, MissingPolicy, load_hf};
pub use params::{ParamInfo, param_infos, param_values};
pub use record::{load_record, save_record};
pub use safetensors_io::{
    FileTensor, OutTensor, TensorValues, read_safetensors, tensor_shapes, write_safetensors,
};
