//! The inference pipelines from Rust: fill-mask and sentence vectors with the shipped
//! pretrained model, and — given a fine-tuned classifier directory — text classification of
//! each line of stdin. Each pipeline loads its model once and runs batches.
//!
//! ```sh
//! cargo run --release -p albert-runner --example pipelines
//! echo "a gripping, beautifully made film" | \
//!     cargo run --release -p albert-runner --example pipelines -- runs/sst2/model
//! ```

use std::io::BufRead;
use std::path::Path;

use albert_runner::pipeline::{FeatureExtraction, FillMask, Pooling, TextClassification};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-mini-mixed");

    let fill = FillMask::new(&shipped, "cpu")?;
    let texts = [
        "The president gave a [MASK] to the nation.",
        "She opened the [MASK] and walked in.",
    ];
    for (text, masks) in texts.iter().zip(fill.call(&texts, 3)?) {
        let candidates: Vec<String> = masks[0]
            .iter()
            .map(|c| format!("{} ({:.3})", c.token_str, c.score))
            .collect();
        println!("{text}\n  {}", candidates.join(", "));
    }

    let embed = FeatureExtraction::new(&shipped, "cpu")?;
    let pairs = [
        ("The cat sat on the mat.", None),
        ("A cat was sitting on a rug.", None),
        ("Stock prices fell sharply.", None),
    ];
    let v = embed.call(&pairs, Pooling::Mean, true)?;
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    println!(
        "cosine(cat, cat) {:.3}, cosine(cat, stocks) {:.3}",
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2])
    );

    if let Some(classifier) = std::env::args().nth(1) {
        let classify = TextClassification::new(classifier, "cpu")?;
        let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
        let inputs: Vec<(&str, Option<&str>)> = lines.iter().map(|l| (l.as_str(), None)).collect();
        for (line, result) in lines.iter().zip(classify.call(&inputs, 1)?) {
            println!("{:?} {:.3}  {line}", result[0].label, result[0].score);
        }
    }
    Ok(())
}
