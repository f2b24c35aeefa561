fn main() {
    println!("billforge: under construction");
}
