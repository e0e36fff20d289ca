//! Walks a module's parameters without materialising them: burn path, HF name, shapes.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Int, Tensor};

use super::hf_names::hf_name;

/// One parameter of a module, as the checkpoint code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Path in the burn module tree, e.g. `albert.encoder.attention_groups.0.0.query.weight`.
    pub path: String,
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
    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Default)]
struct Walker {
    path: Vec<String>,
    containers: Vec<String>,
    params: Vec<ParamInfo>,
}

impl Walker {
    fn push(&mut self, shape: Vec<usize>) {
        let path = self.path.join(".");
        let module_type = self
            .containers
            .iter()
            .rev()
            .find(|c| c.starts_with("Struct:"))
            .cloned()
            .unwrap_or_default();
        let transposed =
            module_type == "Struct:Linear" && path.ends_with(".weight") && shape.len() == 2;
        let hf_shape = if transposed {
            shape.iter().rev().copied().collect()
        } else {
            shape.clone()
        };
        self.params.push(ParamInfo {
            hf_name: hf_name(&path, &module_type),
            path,
            shape,
            hf_shape,
            transposed,
        });
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
