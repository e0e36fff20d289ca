//! Tokenize a text (pair) with a model directory's vocabulary: ids, pieces, token types and
//! character offsets, as ALBERT's tokenizer gives them.
//!
//! ```sh
//! cargo run -p albert-tokenizer --example tokenize -- models/albert-mini-mixed "Hello, world!" "Second part."
//! ```

use albert_tokenizer::{AlbertTokenizer, EncodeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(
        "usage: tokenize MODEL_DIR TEXT [PAIR]  (MODEL_DIR holds spiece.model or tokenizer.json)",
    )?;
    let text = args.next().unwrap_or_else(|| "Hello, world!".to_string());
    let pair = args.next();
    let tokenizer = AlbertTokenizer::from_path(&dir)?;
    let encoding = tokenizer.encode(&text, pair.as_deref(), &EncodeOptions::default())?;
    println!("vocabulary: {} pieces", tokenizer.vocab_size());
    for (i, id) in encoding.ids.iter().enumerate() {
        let piece = tokenizer.decode(&[*id], false)?;
        println!(
            "{i:>3}  id {id:>6}  type {}  {piece:?}",
            encoding.type_ids[i]
        );
    }
    println!("decoded: {:?}", tokenizer.decode(&encoding.ids, true)?);
    Ok(())
}
