// Native timing of the tokenizer on a text file (not a test): cargo run --release --example tokbench FILE
use edge_core::tokenizer::from_tiktoken;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let enc: String = std::fs::read_to_string(&args[1]).unwrap();
    let text = std::fs::read_to_string(&args[2]).unwrap();
    let ranks_start = enc.find("\"bpe_ranks\":\"").unwrap() + 13;
    let ranks = enc[ranks_start..enc.len() - 2].replace("\\n", "\n");
    let pat_start = enc.find("\"pat_str\":\"").unwrap() + 11;
    let pat_end = enc[pat_start..].find("\",\"").unwrap() + pat_start;
    let pat = enc[pat_start..pat_end].replace("\\\\", "\\");
    let t0 = std::time::Instant::now();
    let tok = from_tiktoken(ranks.as_bytes(), &pat, &[]).unwrap();
    println!("load {:?}", t0.elapsed());
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let n = tok.encode(&text, false).unwrap().len();
        let e = t0.elapsed();
        let t1 = std::time::Instant::now();
        let c = tok.count(&text, false).unwrap();
        let ce = t1.elapsed();
        println!("encode {n} ids {:.1} MB/s; count {c} {:.1} MB/s", text.len() as f64 / 1e6 / e.as_secs_f64(), text.len() as f64 / 1e6 / ce.as_secs_f64());
    }
}
