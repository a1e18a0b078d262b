//! What a backend needs to train: [`TrainingBackend`], autodiff with the SRU recurrence on
//! the outside and on the inner backend.

/// A backend the loop can train on: autodiff with the SRU recurrence, whose inner backend
/// (evaluation, all-reduce) runs the recurrence too. `Autodiff<Flex>`, `Autodiff<Wgpu>` and
/// `Autodiff<Cuda>` all are.
pub trait TrainingBackend:
    sru_kernel::RecurrenceAutodiffBackend<InnerBackend: sru_kernel::RecurrenceBackend>
{
}

impl<B> TrainingBackend for B where
    B: sru_kernel::RecurrenceAutodiffBackend<InnerBackend: sru_kernel::RecurrenceBackend>
{
}
