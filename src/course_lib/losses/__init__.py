"""Every loss of ``torch.nn`` written from tensor primitives (``course_lib.losses``).

Each loss is a small elementwise core followed by one shared reduction, with torch's own
functional signature, plus the ``nn.Module`` of the same name. The families:

- classification: :func:`cross_entropy`, :func:`nll_loss`, :func:`binary_cross_entropy`,
  :func:`binary_cross_entropy_with_logits`;
- regression: :func:`l1_loss`, :func:`mse_loss`, :func:`smooth_l1_loss`, :func:`huber_loss`,
  :func:`poisson_nll_loss`, :func:`gaussian_nll_loss`;
- information theory: :func:`self_information`, :func:`entropy`, :func:`kl_divergence`,
  :func:`cross_entropy_of_distributions` and the loss :func:`kl_div`;
- margins: :func:`margin_ranking_loss`, :func:`hinge_embedding_loss`,
  :func:`soft_margin_loss`, :func:`multilabel_soft_margin_loss`, :func:`multi_margin_loss`,
  :func:`multilabel_margin_loss`;
- embeddings: :func:`cosine_embedding_loss`, :func:`triplet_margin_loss`,
  :func:`triplet_margin_with_distance_loss`;
- sequences: :func:`ctc_loss`;
- the bridge from logits to log-probabilities: :func:`log_softmax`.
"""

from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from .ctc import ctc_loss
from .embedding import cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss
from .information import (
    cross_entropy_of_distributions,
    entropy,
    kl_div,
    kl_divergence,
    self_information,
)
from .margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from .modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from .regression import (
    gaussian_nll_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)
from .softmax import log_softmax

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "cross_entropy_of_distributions",
    "ctc_loss",
    "entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "kl_divergence",
    "l1_loss",
    "log_softmax",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "self_information",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
