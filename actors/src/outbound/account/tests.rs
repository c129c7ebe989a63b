//! The account's shared budget over a real Postgres (see `outbound/postgres_tests.rs`), and the
//! edges of its local spending, one mutant's worth each.

use super::super::postgres_tests::{leases, pool_at, with_fresh_pool};
use super::*;

/// Leases of `block` sends per lane, spendable for `lease_ttl`, in Alpaca's minute.
fn policy(limit: u32, reserved: u32, block: [u32; 2], lease_ttl: Duration) -> AccountPolicy {
    AccountPolicy {
        limit,
        reserved_for_trading: reserved,
        window: Duration::from_secs(60),
        lease_ttl,
        block,
    }
}

#[test]
fn alpaca_minute_small_blocks_and_each_lanes_limit() {
    let policy = AccountPolicy::per_minute(200, 50);
    assert_eq!(
        policy,
        AccountPolicy {
            limit: 200,
            reserved_for_trading: 50,
            window: Duration::from_secs(60),
            lease_ttl: Duration::from_secs(2),
            block: [2, 4],
        }
    );
    assert_eq!(policy.lane_limit(Lane::Trading), 200);
    assert_eq!(policy.lane_limit(Lane::MarketData), 150);
    assert_eq!(
        AccountPolicy::per_minute(5, 9).lane_limit(Lane::MarketData),
        1
    );
    assert_eq!(policy.horizon(), Duration::from_secs(63));
}

#[tokio::test]
async fn a_lease_is_spent_here_one_block_per_round_trip() {
    with_fresh_pool(|pool| async move {
        let budget =
            AccountBudget::new(pool.clone(), policy(10, 0, [3, 4], Duration::from_secs(60)));
        for _ in 0..3 {
            assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        }
        assert_eq!(leases(&pool).await, (1, 3), "one lease of the lane's block");
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (2, 6), "spent: the next block");
        assert_eq!(budget.take(Lane::MarketData).await.unwrap(), Take::Granted);
        assert_eq!(
            leases(&pool).await,
            (3, 10),
            "market data leases its own block"
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_policy_shapes_the_next_lease() {
    with_fresh_pool(|pool| async move {
        let budget = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        let wider = policy(10, 0, [5, 4], Duration::from_secs(60));
        budget.set_policy(wider);
        assert_eq!(budget.policy(), wider);
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (1, 5));
    })
    .await;
}

#[tokio::test]
async fn a_send_given_back_is_spent_again_without_a_new_lease() {
    with_fresh_pool(|pool| async move {
        let budget =
            AccountBudget::new(pool.clone(), policy(10, 0, [2, 4], Duration::from_secs(60)));
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        budget.give_back(Lane::Trading);
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (1, 2));
    })
    .await;
}

#[tokio::test]
async fn a_full_account_says_when_the_oldest_lease_leaves_the_horizon_and_is_not_asked_again() {
    with_fresh_pool(|pool| async move {
        let budget = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(2, 0));
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        // The lease leaves the horizon 63 s after it was granted (window, lease time, 1 s).
        let Take::Wait(wait) = budget.take(Lane::Trading).await.unwrap() else {
            panic!("the account is full");
        };
        assert!(
            wait > Duration::from_secs(58) && wait <= Duration::from_secs(63),
            "{wait:?}"
        );
        // Room made behind its back is not seen before the wait ends: no round trip till then.
        pool.get()
            .await
            .unwrap()
            .execute("DELETE FROM outbound_leases", &[])
            .await
            .unwrap();
        let Take::Wait(again) = budget.take(Lane::Trading).await.unwrap() else {
            panic!("still waiting");
        };
        assert!(
            again <= wait && again > Duration::from_secs(58),
            "{again:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_expired_lease_gives_its_unspent_rest_back_with_the_next_lease() {
    with_fresh_pool(|pool| async move {
        // Leases expire as soon as they are granted.
        let budget = AccountBudget::new(pool.clone(), policy(10, 0, [4, 4], Duration::ZERO));
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (1, 4));
        assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        // The first lease keeps the one send spent; the second holds a new block.
        assert_eq!(leases(&pool).await, (2, 5));
    })
    .await;
}

#[tokio::test]
async fn a_pause_holds_its_lanes_here_and_in_every_other_process() {
    with_fresh_pool(|pool| async move {
        let here = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        let there = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        let pause = Duration::from_secs(30);
        here.pause(&[Lane::MarketData], Instant::now() + pause)
            .await
            .unwrap();
        for budget in [&here, &there] {
            let Take::Wait(wait) = budget.take(Lane::MarketData).await.unwrap() else {
                panic!("market data is paused");
            };
            assert!(wait > Duration::from_secs(25) && wait <= pause, "{wait:?}");
            assert_eq!(budget.take(Lane::Trading).await.unwrap(), Take::Granted);
        }
    })
    .await;
}

#[tokio::test]
async fn a_pause_takes_the_live_lease_out_of_spending_and_gives_its_rest_back() {
    with_fresh_pool(|pool| async move {
        let budget = AccountBudget::new(pool.clone(), AccountPolicy::per_minute(10, 0));
        assert_eq!(budget.take(Lane::MarketData).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (1, 4));
        // A pause already over: the lane leases again at once, and the rest (3) goes back.
        budget
            .pause(&[Lane::MarketData], Instant::now())
            .await
            .unwrap();
        assert_eq!(budget.take(Lane::MarketData).await.unwrap(), Take::Granted);
        assert_eq!(leases(&pool).await, (2, 5));
    })
    .await;
}

fn unused_budget() -> AccountBudget {
    // Never connected: these tests stay in this process's state.
    AccountBudget::new(
        pool_at("postgres://postgres@127.0.0.1:1/postgres"),
        AccountPolicy::per_minute(10, 0),
    )
}

#[tokio::test]
async fn a_block_that_ends_exactly_now_is_over() {
    let budget = unused_budget();
    let until = Instant::now() + Duration::from_secs(5);
    lock(&budget.inner.lanes)[Lane::Trading.index()].blocked_until = Some(until);
    assert_eq!(
        budget.take_local(Lane::Trading, until - Duration::from_secs(2)),
        Some(Take::Wait(Duration::from_secs(2)))
    );
    assert_eq!(budget.take_local(Lane::Trading, until), None);
    assert_eq!(
        lock(&budget.inner.lanes)[Lane::Trading.index()].blocked_until,
        None
    );
}

#[tokio::test]
async fn a_lease_is_spent_until_just_before_it_ends_and_an_empty_one_leaves_no_rest() {
    let budget = unused_budget();
    let until = Instant::now() + Duration::from_secs(2);
    let lane = Lane::Trading.index();
    lock(&budget.inner.lanes)[lane].lease = Some(Lease {
        id: 7,
        left: 2,
        until,
    });
    let just_before = until - Duration::from_nanos(1);
    assert_eq!(
        budget.take_local(Lane::Trading, just_before),
        Some(Take::Granted)
    );
    // Ended exactly now: the unspent send goes back with the next lease.
    assert_eq!(budget.take_local(Lane::Trading, until), None);
    assert_eq!(lock(&budget.inner.lanes)[lane].rests, vec![(7, 1)]);
    assert!(lock(&budget.inner.lanes)[lane].lease.is_none());

    // A spent lease, still live: nothing to send from it, and nothing to give back.
    lock(&budget.inner.lanes)[lane] = LaneState {
        lease: Some(Lease {
            id: 8,
            left: 0,
            until,
        }),
        ..Default::default()
    };
    assert_eq!(budget.take_local(Lane::Trading, just_before), None);
    assert!(lock(&budget.inner.lanes)[lane].rests.is_empty());
}
