//! Walks a module's parameters: burn path, HF name, shapes, and (on request) values.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Int, Tensor};

use super::hf_names::hf_name;
use crate::error::{AlbertError, Result};

/// One parameter of a module, as the checkpoint code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Path in the burn module tree, e.g. `albert.encoder.attention_groups.0.0.query.weight`.
    pub path: String,
    /// burn's name of the innermost module holding it (e.g. `Struct:Linear`).
    pub module_type: String,
    /// The HF checkpoint name.
    pub hf_name: String,
    /// Shape in this crate's layout.
    pub shape: Vec<usize>,
    /// Shape in HF's layout (differs for `Linear` weights).
    pub hf_shape: Vec<usize>,
    /// Whether the HF tensor is the transpose of ours (`Linear` weights).
    pub transposed: bool,
}

impl ParamInfo {
    /// Describes the parameter at `path` inside a module of type `module_type`.
    pub fn new(path: String, module_type: String, shape: Vec<usize>) -> Self {
        let transposed =
            module_type == "Struct:Linear" && path.ends_with(".weight") && shape.len() == 2;
        let hf_shape = if transposed {
            shape.iter().rev().copied().collect()
        } else {
            shape.clone()
        };
        Self {
            hf_name: hf_name(&path, &module_type),
            path,
            module_type,
            shape,
            hf_shape,
            transposed,
        }
    }

    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A row-major `[rows, cols]` matrix transposed to `[cols, rows]`.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

#[derive(Default)]
struct Walker {
    path: Vec<String>,
    containers: Vec<String>,
    params: Vec<ParamInfo>,
    /// `Some` when values are read too (this materialises lazy parameters).
    values: Option<Vec<Vec<f32>>>,
    error: Option<String>,
}

impl Walker {
    fn push(&mut self, shape: Vec<usize>) {
        let module_type = self
            .containers
            .iter()
            .rev()
            .find(|c| c.starts_with("Struct:"))
            .cloned()
            .unwrap_or_default();
        self.params
            .push(ParamInfo::new(self.path.join("."), module_type, shape));
    }
}

impl ModuleVisitor for Walker {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.push(param.lazy_shape().to_vec());
        if let Some(values) = self.values.as_mut() {
            match param.val().try_into_vec_as::<f32>() {
                Ok(v) => values.push(v),
                Err(e) => self.error = Some(format!("cannot read {}: {e:?}", self.path.join("."))),
            }
        }
    }
    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.push(param.lazy_shape().to_vec());
    }
    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.push(param.lazy_shape().to_vec());
    }
}

/// Every parameter of `module`, in visiting order. Lazy parameters stay unmaterialised.
pub fn param_infos<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut walker = Walker::default();
    module.visit(&mut walker);
    walker.params
}

/// Every float parameter of `module` with its values (row-major, our layout).
pub fn param_values<M: Module>(module: &M) -> Result<Vec<(ParamInfo, Vec<f32>)>> {
    let mut walker = Walker {
        values: Some(Vec::new()),
        ..Walker::default()
    };
    module.visit(&mut walker);
    if let Some(e) = walker.error {
        return Err(AlbertError::Export(e));
    }
    let values = walker.values.unwrap_or_default();
    if values.len() != walker.params.len() {
        return Err(AlbertError::Export(
            "only float parameters can be exported".into(),
        ));
    }
    Ok(walker.params.into_iter().zip(values).collect())
}
