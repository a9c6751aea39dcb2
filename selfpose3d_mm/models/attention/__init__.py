from .soft_attention_net import SoftAttentionNet

__all__ = ['SoftAttentionNet']
