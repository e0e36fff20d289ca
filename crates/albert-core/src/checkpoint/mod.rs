//! Checkpoints: Hugging Face safetensors in and out through one name table
//! ([`hf_names`]), PyTorch `pytorch_model.bin` and original TF1 checkpoints in
//! ([`read_checkpoint`], [`model_files`]), and burn's own record format for training.

mod export;
mod formats;
pub mod hf_names;
mod load;
mod params;
mod pytorch;
mod record;
mod run_dir;
mod safetensors_io;
mod tf;

pub use export::{export_hf, export_hf_as};
pub use formats::{model_files, read_checkpoint};
pub use load::{LoadReport, Mismatch, MissingPolicy, load_hf};
pub use params::{ParamInfo, param_infos, param_values};
pub use pytorch::read_pytorch;
pub use record::{load_record, save_record};
pub use run_dir::CheckpointDir;
pub use safetensors_io::{
    FileTensor, OutTensor, StoreDtype, TensorValues, read_safetensors, tensor_shapes,
    write_safetensors, write_safetensors_as,
};
pub use tf::{hf_name_of_tf, read_tf_checkpoint};
