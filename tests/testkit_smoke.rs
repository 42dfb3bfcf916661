use pg_entra_pool::testkit::TestCluster;

#[tokio::test]
async fn cluster_starts() {
    let t = std::time::Instant::now();
    let cluster = TestCluster::start().unwrap();
    eprintln!("start took {:?}", t.elapsed());
    let admin = cluster.admin().await.unwrap();
    let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
    eprintln!("ssl = {}", row.get::<_, String>(0));
    cluster.create_role("app", Some("pw")).await.unwrap();
    let tls = TestCluster::tls_connector(cluster.ca_file()).unwrap();
    let mut cfg = cluster.user_config("app");
    cfg.password("pw");
    let (c, conn) = cfg.connect(tls).await.unwrap();
    tokio::spawn(conn);
    c.simple_query("select 1").await.unwrap();
    let t = std::time::Instant::now();
    cluster.restart().unwrap();
    eprintln!("restart took {:?}", t.elapsed());
    let dir = cluster.socket_dir().parent().unwrap().to_path_buf();
    drop(cluster);
    assert!(!dir.exists());
}
