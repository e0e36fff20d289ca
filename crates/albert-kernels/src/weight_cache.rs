//! Weights converted once for the product kernels that read them (bf16 pairs, int8 quads),
//! kept for as long as the weight itself is alive.

use std::sync::{Arc, Mutex};

use burn_flex::FlexTensor;

/// A converted weight and the tensor it was converted from (holding its storage).
struct Entry<T> {
    source: FlexTensor,
    converted: Arc<T>,
}

/// Converted weights by the weight tensor they came from: the same view of the same storage
/// is converted once for as long as someone other than the cache holds it — ALBERT's shared
/// layers apply one weight `num_hidden_layers` times per forward pass, and a model kept for
/// serving holds its weights across passes.
pub(super) struct WeightCache<T> {
    entries: Mutex<Vec<Entry<T>>>,
}

impl<T> WeightCache<T> {
    /// An empty cache.
    pub(super) const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Drops every entry: the converted weights, and the cache's hold on the weights they came
    /// from (which otherwise lasts until the next conversion finds them unused elsewhere).
    pub(super) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// `convert(w)`, from the cache when the same view of the same storage was converted
    /// before and is still held by someone other than the cache. Entries whose storage only
    /// the cache still holds are dropped first.
    pub(super) fn get(&self, w: &FlexTensor, convert: impl FnOnce(&FlexTensor) -> T) -> Arc<T> {
        let same = |t: &FlexTensor| {
            Arc::ptr_eq(&t.data_arc(), &w.data_arc())
                && t.layout().start_offset() == w.layout().start_offset()
                && t.layout().shape() == w.layout().shape()
                && t.layout().strides() == w.layout().strides()
        };
        let mut cache = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Drop the entries whose storage only cache entries still hold (several views of one
        // weight hold it several times): one count of the entries per storage, then one pass.
        let mut in_cache: std::collections::HashMap<*const _, usize> = Default::default();
        for e in cache.iter() {
            *in_cache
                .entry(Arc::as_ptr(&e.source.data_arc()))
                .or_default() += 1;
        }
        cache.retain(|e| {
            let storage = e.source.data_arc();
            // Less the `storage` handle itself.
            Arc::strong_count(&storage) - 1 > in_cache[&Arc::as_ptr(&storage)]
        });
        if let Some(e) = cache.iter().find(|e| same(&e.source)) {
            return Arc::clone(&e.converted);
        }
        let converted = Arc::new(convert(w));
        cache.push(Entry {
            source: w.clone(),
            converted: Arc::clone(&converted),
        });
        converted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// A conversion is kept while the weight is held elsewhere, made again for another tensor,
    /// and `clear` lets go of the weight (its storage is then held by its owner alone).
    #[test]
    fn conversions_are_kept_until_cleared() {
        let cache: WeightCache<usize> = WeightCache::new();
        let w = FlexTensor::from_data(TensorData::new(vec![1.0f32; 6], [2, 3]));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let convert = |_: &FlexTensor| calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let first = cache.get(&w, convert);
        assert!(Arc::ptr_eq(&first, &cache.get(&w, convert)));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(
            Arc::strong_count(&w.data_arc()) > 2,
            "the cache holds the weight"
        );
        cache.clear();
        // `w` itself and this call's handle.
        assert_eq!(Arc::strong_count(&w.data_arc()), 2);
        let _ = cache.get(&w, convert);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
